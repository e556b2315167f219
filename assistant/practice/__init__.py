"""Practice: grounded quizzes, mock interviews, and learner progress with spaced repetition.

One module per job: ``models`` (records), ``drafts`` (what the model is asked to produce),
``structured`` (schema-constrained calls with bounded repair), ``sources`` (topic retrieval),
``quiz``/``verify``/``grading`` (questions), ``flashcards``, ``interview``, ``anki``,
``progress``/``schedule``/``next_steps``.
"""
