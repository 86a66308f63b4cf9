"""Work off the GUI thread: tasks on the thread pool, the engine's thread, the indexer's thread and
model jobs in a child process."""
