"""Benchmarks, one module each, run by ``stanceframe benchmark speed|tweeteval|active-learning``:

- :mod:`.speed` how fast ``tag`` is (with :mod:`.speed_settings`, :mod:`.speed_corpus`,
  :mod:`.speed_report`, :mod:`.inference_f1` and :mod:`.memory`, the peak-memory wrapper
  run as ``python -m stanceframe.benchmarks.memory``);
- :mod:`.tweeteval` the TweetEval stance benchmark (SemEval-2016 Task 6);
- :mod:`.active_learning` a simulated annotator: does active learning pay?

Nothing is imported here: :mod:`.memory` runs as a small process of its own, and importing
this package must stay as light as the standard library.
"""
