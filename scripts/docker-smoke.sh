#!/usr/bin/env bash
# Build the image, run it with the model mounted, wait until Docker reports it
# healthy, upload a photo, read the face count back from the API, stop it.
#
#   FACES_MODEL=/path/to/scrfd_2.5g_bnkps.onnx scripts/docker-smoke.sh
#
# Settings (environment): ENGINE (docker, or podman when docker is absent),
# IMAGE (faces:smoke), PORT (18282), SMOKE_PHOTO (../shared/images/t1.jpg),
# SMOKE_FACES (6), BUILD_ARGS (extra `build` arguments), NETWORK (set to
# "host" where the engine has no bridge network: then the container listens
# on PORT itself).
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=${ENGINE:-$(command -v docker >/dev/null && echo docker || echo podman)}
IMAGE=${IMAGE:-faces:smoke}
PORT=${PORT:-18282}
PHOTO=${SMOKE_PHOTO:-../shared/images/t1.jpg}
EXPECT=${SMOKE_FACES:-6}
MODEL=${FACES_MODEL:?set FACES_MODEL to an SCRFD .onnx file on this machine}
MODEL_DIR=$(cd "$(dirname "$MODEL")" && pwd)
MODEL_NAME=$(basename "$MODEL")

say() { printf '[smoke] %s\n' "$*"; }

say "building $IMAGE with $ENGINE"
# shellcheck disable=SC2086
$ENGINE build ${BUILD_ARGS:-} -t "$IMAGE" .
say "image size: $($ENGINE image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

if [ "${NETWORK:-}" = "host" ]; then
    net=(--network host -e "FACES_PORT=$PORT")
else
    net=(-p "127.0.0.1:$PORT:8282")
fi
cid=$($ENGINE run -d "${net[@]}" -v "$MODEL_DIR:/models:ro" -e "FACES_MODEL=/models/$MODEL_NAME" \
      -e FACES_ADDRESS=0.0.0.0 "$IMAGE")
trap 'say "stopping"; $ENGINE stop -t 20 "$cid" >/dev/null; $ENGINE logs "$cid" 2>&1 | tail -5; $ENGINE rm -v "$cid" >/dev/null' EXIT
say "container $cid; user $($ENGINE exec "$cid" id -un)"

for _ in $(seq 1 120); do
    status=$($ENGINE inspect --format '{{.State.Health.Status}}' "$cid")
    [ "$status" = "healthy" ] && break
    sleep 1
done
say "health: $status"
[ "$status" = "healthy" ]

python3 - "$PORT" "$PHOTO" "$EXPECT" <<'PY'
import json, sys, urllib.request, uuid
port, photo, expect = sys.argv[1], sys.argv[2], int(sys.argv[3])
boundary = uuid.uuid4().hex
data = open(photo, "rb").read()
body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="smoke.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
request = urllib.request.Request(f"http://127.0.0.1:{port}/api/photos", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
photo_json = json.loads(urllib.request.urlopen(request, timeout=60).read())
again = json.loads(urllib.request.urlopen(
    f"http://127.0.0.1:{port}/api/photos/{photo_json['id']}", timeout=10).read())
faces = len(again["faces"])
print(f"[smoke] uploaded {photo}: {faces} faces (expected {expect})")
sys.exit(0 if faces == expect else 1)
PY
say "passed"
