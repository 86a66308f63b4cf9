"""Work off the GUI thread. The window must never wait: anything that reads a disk, asks the
network, loads or runs a model, or may take more than a blink runs elsewhere, in one of four
ways. Pick the first that fits:

============================  ======================  =========================================
way                           module                  use it when
============================  ======================  =========================================
a task on Qt's thread pool    ``tasks.py``            the work takes a moment to a minute (a
                                                      file check, a Hub call, a search), a
                                                      person may watch it or stop it. Progress
                                                      and cancel come with it. The default.
one QThread that owns an      ``engine_thread.py``    the work needs an object that must stay
object                                                on one thread for its whole life
                                                      (llama.cpp's ``Llama`` is not
                                                      thread-safe): requests queue to it.
a thread draining a queue     ``indexer_thread.py``   long in-process work (minutes: indexing
                                                      documents) that comes as a queue of items,
                                                      can pause, and must not hold a pool thread
                                                      that short tasks need.
a child process, polled by a  ``job_process.py``      hours of native code (convert, quantize,
timer                                                 download) that may crash or run out of
                                                      memory, that a quit must be able to kill
                                                      with its children, and that resumes at the
                                                      next start.
============================  ======================  =========================================

What all four share:

- The work itself is a core function (``desktop/core``, ``conversion``): Qt-free, taking
  ``progress`` and ``cancel`` (``conversion.progress``), raising ``Cancelled`` when stopped.
  Here it is only run, and its news turned into signals.
- Results, progress and errors reach widgets as Qt signals, delivered on the GUI thread; no
  worker touches a widget, and nothing on the GUI thread waits on a worker (no
  ``processEvents``, no ``join``) except at shutdown.
- Stopping is a :class:`~conversion.progress.CancelToken` set from the GUI thread; a stopped
  piece of work says so (``cancelled``), it does not fail.
- Closing the window ends or cancels each (``shutdown`` methods), and keeps what the next start
  can resume.
"""
