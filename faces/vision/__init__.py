"""The worker side: what runs in a worker process, never on the server's
event loop. Jobs (:mod:`.jobs`) on the worker's state (:mod:`.worker`):
decode (:mod:`.probe`, :mod:`.decode`), detect (:mod:`.detectors`),
annotate and encode (:mod:`.pipeline`, :mod:`.annotate`), describe faces
(:mod:`.describe`, :mod:`.recognizers`); the models' files
(:mod:`.models`, :mod:`.fetch`) and their runtime (:mod:`.runtime`).
The server process imports only the light modules (jobs, contract, probe)."""
