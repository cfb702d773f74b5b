"""Languages other than English: what language a text is in (``detect``) and its English
translation (``translate``, Apertium). Search translates non-English queries so they meet
English labels and transcripts; ingest stores English translations of non-English speech
and on-screen text as extra keyword text."""
