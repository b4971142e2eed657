/**
 * One run at a time of an async task that news can make stale: asked while it runs, it runs once more after,
 * however often it was asked meanwhile. A flood of asks costs two runs, and an older run never finishes after a
 * newer one.
 */
export function coalesced(task: () => Promise<void>): () => void {
  let state: 'idle' | 'running' | 'again' = 'idle';
  const run = (): void => {
    if (state !== 'idle') {
      state = 'again';
      return;
    }
    state = 'running';
    void task()
      .catch(() => {})
      .finally(() => {
        const again = state === 'again';
        state = 'idle';
        if (again) run();
      });
  };
  return run;
}
