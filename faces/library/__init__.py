"""The library: the use cases (:mod:`.gallery`, :mod:`.people`,
:mod:`.recognition`), the grouping rules (:mod:`.grouping`, pure), and what
they keep: the records (:mod:`.records`), the files (:mod:`.files`), the
catalogue (:mod:`.catalogue`) and its schema (:mod:`.migrations`).
Nothing here knows about HTTP; jobs run on a backend."""
