"""Extensions beyond the spec: the 2022 async design's proposals that no engine has.

Each is off unless enabled (``Store(features=...)``, ``Linker(features=...)``,
``--features``); with none enabled nothing here runs and the runtime is
exactly the spec's. ``docs/extensions.md`` describes each one.

* ``features``: the names and how they are enabled;
* ``pumps``: splice, skip and forward, moving values between streams (or
  futures) without a buffer in the caller's memory;
* ``stream_end``: ``stream<T, U>``, a stream whose end carries a value;
* ``parking``: park / unpark with cycle (deadlock) detection;
* ``extension_builtins``: the built-ins themselves, as the spec writes its
  ``canon_*`` functions.
"""
