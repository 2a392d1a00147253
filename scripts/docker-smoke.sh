#!/usr/bin/env bash
# The README's Docker lines, run as a new user would, on fresh volumes, plus
# the problems a user meets with them. Builds the image, then:
#   1. `docker run -d --name faces -v faces-data:/data -v faces-backups:/backups faces`
#      with nothing mounted at /models: the models are fetched at first start
#      (from a mirror on loopback here), the port answers at once meanwhile,
#      the container becomes healthy, a photo's faces are found;
#   2. one uid and gid (10001:10001); fetched model files 0644 (also under umask 077);
#   3. `docker exec faces faces backup /backups/faces`, then `faces check` of the copy;
#   4. a backup into a host folder the image's user cannot write: one line, no traceback;
#   5. a models folder the image's user cannot enter: one line naming it;
#   6. a model mirror that never answers: port open at once, then one line;
#   7. a host folder of photos mounted read-only as FACES_LIBRARY: indexed in
#      place, watched, a photo copied in later appears, nothing written;
#   8. the owner's account made with `docker exec -i faces faces user add`: then
#      401 without a login, and the owner's session works.
#
#   FACES_MODEL=... FACES_RECOGNITION_MODEL=... scripts/docker-smoke.sh   (make docker-smoke)
#
# Settings (environment): ENGINE (docker, or podman when docker is absent),
# IMAGE (faces:smoke), PORT (18282), SMOKE_PHOTO (../shared/images/t1.jpg),
# SMOKE_FACES (6), BUILD_ARGS (extra `build` arguments, e.g. --build-arg
# BASE=...), NETWORK ("host": the container shares the machine's loopback and
# listens on PORT itself, where the engine has no bridge network or traffic
# must stay on loopback; else `-p 127.0.0.1:PORT:8282` as in the README).
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=${ENGINE:-$(command -v docker >/dev/null && echo docker || echo podman)}
IMAGE=${IMAGE:-faces:smoke}
PORT=${PORT:-18282}
PHOTO=${SMOKE_PHOTO:-../shared/images/t1.jpg}
EXPECT=${SMOKE_FACES:-6}
MODEL=${FACES_MODEL:?set FACES_MODEL to an SCRFD .onnx file on this machine}
RECOGNIZER=${FACES_RECOGNITION_MODEL:?set FACES_RECOGNITION_MODEL to the SFace .onnx file}
SFACE=face_recognition_sface_2021dec_int8bq.onnx
RUN_ID=smoke-$$
NAME=faces-$RUN_ID
WORK=$(mktemp -d)

say() { printf '[smoke] %s\n' "$*"; }
fail() { say "FAILED: $*"; exit 1; }

# A model mirror on loopback: the files by the names the image asks for.
mkdir -p "$WORK/mirror"
cp "$MODEL" "$WORK/mirror/det_2.5g.onnx"
cp "$RECOGNIZER" "$WORK/mirror/$SFACE"
MIRROR_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$MIRROR_PORT" --bind 127.0.0.1 --directory "$WORK/mirror" \
    >"$WORK/mirror.log" 2>&1 &
MIRROR_PID=$!
MIRROR=http://127.0.0.1:$MIRROR_PORT
# A mirror that accepts connections and never answers.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16); print(s.getsockname()[1], flush=True)
time.sleep(600)' >"$WORK/silent.port" &
SILENT_PID=$!

cleanup() {
    say "cleaning up"
    $ENGINE logs "$NAME" 2>&1 | tail -5 || true
    $ENGINE rm -f -v "$NAME" "$NAME-silent" >/dev/null 2>&1 || true
    $ENGINE volume rm -f "faces-data-$RUN_ID" "faces-backups-$RUN_ID" "faces-cache-$RUN_ID" \
        >/dev/null 2>&1 || true
    kill "$MIRROR_PID" "$SILENT_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${NETWORK:-}" = "host" ]; then
    net=(--network host -e "FACES_PORT=$PORT")
else
    net=(-p "127.0.0.1:$PORT:8282")
fi
BASE=http://127.0.0.1:$PORT

say "building $IMAGE with $ENGINE"
# shellcheck disable=SC2086
$ENGINE build ${BUILD_ARGS:-} -t "$IMAGE" .
say "image size: $($ENGINE image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

# 1. The README's `docker run`, with volumes for data, backups and the model cache.
started=$(date +%s.%N)
$ENGINE run -d --name "$NAME" "${net[@]}" -v "faces-data-$RUN_ID:/data" \
    -v "faces-backups-$RUN_ID:/backups" -v "faces-cache-$RUN_ID:/cache" \
    -e "FACES_MODEL_MIRROR=$MIRROR" -e FACES_ADDRESS=0.0.0.0 "$IMAGE" >/dev/null
first=""
for _ in $(seq 1 600); do
    first=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz" || true)
    [ "$first" != "000" ] && break
    sleep 0.1
done
say "port answered $first after $(python3 -c "import time; print(f'{time.time() - $started:.1f} s')") (the models are fetched meanwhile)"
[ "$first" != "000" ] || fail "the port never opened"
status=starting
for _ in $(seq 1 180); do
    status=$($ENGINE inspect --format '{{.State.Health.Status}}' "$NAME")
    [ "$status" = "healthy" ] && break
    [ "$($ENGINE inspect --format '{{.State.Running}}' "$NAME")" = "true" ] || break
    sleep 1
done
say "health: $status"
[ "$status" = "healthy" ] || fail "the container did not become healthy"
$ENGINE logs "$NAME" 2>&1 | grep -q "downloading" || fail "the log does not say it downloads"

python3 - "$BASE" "$PHOTO" "$EXPECT" <<'PY'
import json, sys, urllib.request, uuid
base, photo, expect = sys.argv[1], sys.argv[2], int(sys.argv[3])
boundary = uuid.uuid4().hex
data = open(photo, "rb").read()
body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="smoke.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
request = urllib.request.Request(f"{base}/api/photos", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
photo_json = json.loads(urllib.request.urlopen(request, timeout=60).read())
again = json.loads(urllib.request.urlopen(f"{base}/api/photos/{photo_json['id']}", timeout=10).read())
faces = len(again["faces"])
print(f"[smoke] uploaded {photo}: {faces} faces (expected {expect})")
sys.exit(0 if faces == expect else 1)
PY

# 2. One uid and gid; fetched models readable by every user, whatever the umask.
ids=$($ENGINE exec "$NAME" id -u):$($ENGINE exec "$NAME" id -g)
say "runs as $ids"
[ "$ids" = "10001:10001" ] || fail "expected 10001:10001"
mode=$($ENGINE exec "$NAME" stat -c %a /cache/det_2.5g.onnx)
[ "$mode" = "644" ] || fail "the fetched model is $mode, not 644"
mode=$($ENGINE run --rm "${net[@]}" --entrypoint sh "$IMAGE" -c \
    "umask 077 && faces fetch-model --dest /tmp/m/det_2.5g.onnx --url $MIRROR/det_2.5g.onnx >/dev/null 2>&1 && stat -c %a /tmp/m/det_2.5g.onnx")
[ "$mode" = "644" ] || fail "under umask 077 the fetched model is $mode, not 644"
say "fetched models are 644 (also under umask 077)"

# 3. The README's backup line, into the volume at /backups; the copy checked.
$ENGINE exec "$NAME" faces backup /backups/faces
$ENGINE exec "$NAME" faces check --data-dir /backups/faces
say "backup into /backups: whole"

# 4. A host folder the image's user cannot write, mounted at /backups: one line.
mkdir -p "$WORK/host-backups" && chmod 755 "$WORK/host-backups"
set +e
out=$($ENGINE run --rm -v "faces-data-$RUN_ID:/data" -v "$WORK/host-backups:/backups" \
      "$IMAGE" backup /backups/faces 2>&1)
code=$?
set -e
say "backup into a root-owned host folder: exit $code: $out"
[ "$code" = "2" ] && [ "$(printf '%s\n' "$out" | wc -l)" = "1" ] || fail "expected one line, exit 2"
case "$out" in *"chown"*"/backups"*) ;; *) fail "the line does not say how to fix it" ;; esac

# 5. A models folder the image's user cannot enter: one line naming it.
mkdir -p "$WORK/models" && cp "$MODEL" "$WORK/models/det_2.5g.onnx" && chmod 700 "$WORK/models"
set +e
out=$($ENGINE run --rm "${net[@]}" -v "$WORK/models:/models:ro" -e FACES_FETCH_MODELS=0 \
      -e FACES_RECOGNITION_MODEL= "$IMAGE" 2>&1 | grep -v '^20')
set -e
say "a models folder it cannot enter: $out"
case "$out" in "faces: cannot read the model at /models/det_2.5g.onnx: /models stops it"*) ;;
    *) fail "expected one line naming /models" ;; esac
[ "$(printf '%s\n' "$out" | wc -l)" = "1" ] || fail "expected one line"

# 6. A model mirror that never answers: the port opens at once, then one line.
$ENGINE rm -f -v "$NAME" >/dev/null
SILENT=http://127.0.0.1:$(head -1 "$WORK/silent.port")
$ENGINE run -d --name "$NAME-silent" "${net[@]}" -e "FACES_MODEL_MIRROR=$SILENT" \
    -e FACES_DOWNLOAD_TIMEOUT=5 "$IMAGE" >/dev/null
answer=""
for _ in $(seq 1 100); do
    answer=$(curl -s "$BASE/healthz" || true)
    [ -n "$answer" ] && break
    sleep 0.1
done
say "with a silent mirror the port answers: $answer"
case "$answer" in *'"starting"'*"downloading"*) ;; *) fail "expected 503 starting" ;; esac
code=$($ENGINE wait "$NAME-silent")
last=$($ENGINE logs "$NAME-silent" 2>&1 | tail -1)
say "then exit $code: $last"
[ "$code" = "2" ] || fail "expected exit 2"
case "$last" in "faces: no model at"*"timed out"*) ;; *) fail "expected one line saying so" ;; esac
$ENGINE logs "$NAME-silent" 2>&1 | grep -q Traceback && fail "a traceback in the log"
$ENGINE rm -f -v "$NAME-silent" >/dev/null

# 7. The README's library line: a host folder of photos mounted read-only at
#    /photos, indexed in place; a photo copied in later appears; not a byte written.
mkdir -p "$WORK/photos/trip" && chmod -R 755 "$WORK/photos"
cp "$PHOTO" "$WORK/photos/trip/first.jpg" && chmod 644 "$WORK/photos/trip/first.jpg"
before=$(cd "$WORK/photos" && find . -type f -exec sha256sum {} + | sort)
$ENGINE run -d --name "$NAME" "${net[@]}" -v "faces-data-$RUN_ID:/data" \
    -v "faces-cache-$RUN_ID:/cache" -v "$WORK/photos:/photos:ro" -e FACES_LIBRARY=/photos \
    -e FACES_ADDRESS=0.0.0.0 "$IMAGE" >/dev/null
library() {
    curl -s "$BASE/api/library" | python3 -c 'import json, sys
r = json.load(sys.stdin)["roots"][0]; print(r["state"], r["photos"], r["watching"])' 2>/dev/null
}
until_library() {  # until /api/library says "$1" (a minute at most); what it said
    local said=""
    for _ in $(seq 1 300); do
        said=$(library || true)
        [ "$said" = "$1" ] && break
        sleep 0.2
    done
    printf '%s' "$said"
}
found=$(until_library "ok 1 events")
say "library /photos: $found"
[ "$found" = "ok 1 events" ] || fail "expected the folder ok, 1 photo, watched"
cp "$PHOTO" "$WORK/photos/trip/second.jpg.part" && printf 'x' >>"$WORK/photos/trip/second.jpg.part"
mv "$WORK/photos/trip/second.jpg.part" "$WORK/photos/trip/second.jpg"
found=$(until_library "ok 2 events")
say "a photo copied in later: $found"
[ "$found" = "ok 2 events" ] || fail "the new photo did not appear"
before=$(printf '%s\n%s' "$before" "$(cd "$WORK/photos" && sha256sum ./trip/second.jpg)" | sort)
after=$(cd "$WORK/photos" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || fail "the library folder changed"
say "the library folder is as it was"

# 8. The README's accounts line in the running container: the owner made with
#    `docker exec`, then nothing without logging in, and a login that works.
printf 'olive-owner-password\n' | $ENGINE exec -i "$NAME" faces user add olive --role owner \
    || fail "faces user add failed in the container"
status=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/library")
[ "$status" = "401" ] || fail "with an owner, /api/library answered $status without a login"
jar="$WORK/cookies"
status=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -H 'Content-Type: application/json' \
    -d '{"name": "olive", "password": "olive-owner-password"}' "$BASE/api/session")
[ "$status" = "201" ] || fail "the owner's login answered $status"
status=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" "$BASE/api/library")
[ "$status" = "200" ] || fail "the owner's session answered $status"
say "accounts: the owner made with docker exec; 401 without a login, 200 with one"
say "passed"
