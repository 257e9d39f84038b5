// Headless Chromium (Debian's `chromium`) driven over the Chrome DevTools Protocol without npm dependencies:
// `--remote-debugging-pipe` makes Chromium read NUL-terminated JSON commands on fd 3 and write replies and events on
// fd 4 (chromium components/devtools/devtools_pipe/devtools_pipe.h: kReadFD = 3, kWriteFD = 4). One page per test, flattened sessions.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM_BIN = process.env.MESHLENS_CHROMIUM ?? 'chromium';

/** Why Chromium cannot run here, or null when `chromium --version` answers. */
export function chromiumMissing(): string | null {
  const probe = spawnSync(CHROMIUM_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `${CHROMIUM_BIN} binary (Debian package "chromium") not runnable`;
  return null;
}

interface Pending { resolve(value: any): void; reject(error: Error): void; method: string }
type Listener = (params: any, sessionId?: string) => void;

export class Browser {
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Map<string, Set<Listener>>();
  #buffer = '';
  readonly #exited: Promise<void>;
  stderr = '';

  private constructor(private readonly child: ChildProcess, private readonly profileDir: string) {
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const out = child.stdio[4] as Readable;
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => this.#receive(chunk));
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-8000)));
    void this.#exited.then(() => {
      for (const p of this.#pending.values()) p.reject(new Error(`chromium exited during ${p.method}: ${this.stderr}`));
      this.#pending.clear();
    });
    // A test process that dies without close() must not leave Chromium running.
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    void this.#exited.then(() => process.off('exit', kill));
  }

  static async launch(): Promise<Browser> {
    const profileDir = mkdtempSync(join(tmpdir(), 'meshlens-chromium-'));
    const child = spawn(CHROMIUM_BIN, [
      '--headless', '--remote-debugging-pipe', `--user-data-dir=${profileDir}`,
      // Root in a container has no user namespace for the sandbox; the page is our own, on loopback.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--metrics-recording-only', '--mute-audio', '--window-size=1280,1000',
      'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    const browser = new Browser(child, profileDir);
    await browser.send('Browser.getVersion');
    return browser;
  }

  #receive(chunk: string): void {
    this.#buffer += chunk;
    let end: number;
    while ((end = this.#buffer.indexOf('\0')) >= 0) {
      const message = JSON.parse(this.#buffer.slice(0, end)) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: unknown; sessionId?: string };
      this.#buffer = this.#buffer.slice(end + 1);
      if (message.id !== undefined) {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) pending?.reject(new Error(`${pending.method}: ${message.error.message}`));
        else pending?.resolve(message.result);
      } else if (message.method) {
        for (const listener of this.#listeners.get(message.method) ?? []) listener(message.params, message.sessionId);
      }
    }
  }

  send<T = any>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> {
    const id = this.#nextId++;
    (this.child.stdio[3] as Writable).write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject, method }));
  }

  on(method: string, listener: Listener): void {
    if (!this.#listeners.has(method)) this.#listeners.set(method, new Set());
    this.#listeners.get(method)!.add(listener);
  }

  async newPage(): Promise<Page> {
    const { targetId } = await this.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this, sessionId);
    await Promise.all(['Page.enable', 'Runtime.enable', 'Network.enable', 'Log.enable'].map((m) => page.send(m)));
    return page;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await Promise.race([this.send('Browser.close').catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
      const force = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.#exited;
      clearTimeout(force);
    }
    rmSync(this.profileDir, { recursive: true, force: true });
  }
}

export interface PageRequest { method: string; url: string; headers: Record<string, string> }

export class Page {
  /** Requests the page made, in order (Network.requestWillBeSent). */
  readonly requests: PageRequest[] = [];
  /** Console errors and browser log entries (CSP violations land here). */
  readonly problems: string[] = [];

  constructor(private readonly browser: Browser, readonly sessionId: string) {
    browser.on('Network.requestWillBeSent', (p, s) => {
      if (s === sessionId) this.requests.push({ method: p.request.method, url: p.request.url, headers: p.request.headers });
    });
    browser.on('Log.entryAdded', (p, s) => {
      if (s === sessionId && (p.entry.level === 'error' || p.entry.level === 'warning')) this.problems.push(`${p.entry.source}: ${p.entry.text}`);
    });
    browser.on('Runtime.exceptionThrown', (p, s) => {
      if (s === sessionId) this.problems.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`);
    });
    browser.on('Runtime.consoleAPICalled', (p, s) => {
      if (s === sessionId && p.type === 'error') this.problems.push(`console.error: ${p.args.map((a: { value?: unknown; description?: string }) => a.value ?? a.description).join(' ')}`);
    });
  }

  send<T = any>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.browser.send<T>(method, params, this.sessionId);
  }

  async navigate(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      const listener: Listener = (_p, s) => {
        if (s === this.sessionId) resolve();
      };
      this.browser.on('Page.loadEventFired', listener);
    });
    const result = await this.send<{ errorText?: string }>('Page.navigate', { url });
    if (result.errorText) throw new Error(`navigate ${url}: ${result.errorText}`);
    await loaded;
  }

  /** Evaluates an expression in the page (promises awaited) and returns its JSON value. */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const result = await this.send<{ result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } }>(
      'Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (result.exceptionDetails) throw new Error(`${expression}: ${result.exceptionDetails.exception?.description ?? result.exceptionDetails.text}`);
    return result.result.value as T;
  }

  /** Polls an expression until it is truthy (the page updates on its own polling schedule; there is no event). */
  async waitFor<T = unknown>(expression: string, what: string, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      last = await this.evaluate<T>(expression).catch((err: Error) => err.message);
      if (last && !(typeof last === 'string' && last.includes('Error'))) return last as T;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${expression} → ${JSON.stringify(last)}); page problems: ${this.problems.join('; ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A real mouse click (pressed and released) at the centre of the first element matching `selector`. */
  async click(selector: string): Promise<void> {
    const box = await this.evaluate<{ x: number; y: number } | null>(`(() => {
      const el = document.querySelector(${JSON.stringify(selector)});
      if (!el) return null;
      el.scrollIntoView({ block: 'center' });
      const r = el.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    })()`);
    if (!box) throw new Error(`no element matches ${selector}`);
    for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
      await this.send('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: type === 'mouseMoved' ? 0 : 1 });
    }
  }

  /** Focuses `selector` and types `text` as keyboard input. */
  async type(selector: string, text: string): Promise<void> {
    await this.click(selector);
    await this.send('Input.insertText', { text });
  }
}
