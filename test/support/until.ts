/**
 * Waits for a condition that something outside the test's control flow changes (another process, a socket, a VM's
 * timer), where there is no event to await: the probe is asked again every `intervalMs` until it answers something
 * other than undefined or false, and the wait fails after `timeoutMs` naming `what` and the probe's last error (a probe
 * may throw while the other side is not up yet).
 */
export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string,
  timeoutMs = 10_000, intervalMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
