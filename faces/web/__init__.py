"""The web side: the Tornado application (:mod:`.app`), one module per
resource (:mod:`.photos`, :mod:`.people`, :mod:`.session`, :mod:`.system`,
:mod:`.files`), live updates (:mod:`.hub`, :mod:`.live`), who may do what
(:mod:`.access`, :mod:`.ratelimit`), requests bound (:mod:`.forms`),
records shown (:mod:`.views`) and errors answered (:mod:`.errors`)."""
