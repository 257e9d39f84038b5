// Images built and started for real: a local base from Debian packages (mmdebstrap) plus this machine's `node`, the
// repository's Containerfiles built with Debian's buildah (chroot isolation), and the results run.
// There is no registry here, so the Containerfiles' public BASE is replaced by that local base, and their build
// stages by an /app tree made on this host with the same control-plane/image-app.sh (`--build-context app=DIR`):
// the host is Debian bookworm with the base's node, so the native modules and the loader match the image. That skips
// a second Debian base with a toolchain and two npm installs inside containers, the bulk of a cold build.
//
// Everything lives in one dedicated cache directory (MESHLENS_IMAGE_CACHE, default /var/tmp/meshlens-image-cache),
// each entry keyed by its inputs: the base tarball, the production node_modules, the compiled JavaScript, and a
// buildah storage. An entry whose key changed is replaced, and the storage is wiped when it outgrows
// MAX_STORAGE_BYTES, so repeated runs with changing sources cannot fill the disk.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CACHE_DIR = process.env.MESHLENS_IMAGE_CACHE ?? '/var/tmp/meshlens-image-cache';
// Images of later runs replace the tags but leave their layers: bound what accumulates (vfs stores every layer in
// full, ~2 GB per set of images; overlay a fraction of that).
const MAX_STORAGE_BYTES = 25 * 1024 ** 3;
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
// mmdebstrap's helpers (mmtarfilter) are `#!/usr/bin/env python3`: with a user's python shim (pyenv) first on PATH,
// every package extraction would start that shim; Debian's own python3 is the one mmdebstrap is packaged for.
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Why these tests cannot run here, or null. */
export function missingForImages(): string | null {
  if (process.env.MESHLENS_IMAGE_TESTS === '0') return 'MESHLENS_IMAGE_TESTS=0 given: images not built';
  const lacking = ['buildah', 'mmdebstrap'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (lacking.length > 0) return `${lacking.join(' and ')} not installed (bash .ci/setup --tests installs them): images not built`;
  if (process.getuid?.() !== 0) return 'not root: mmdebstrap --mode=root and buildah storage need root; images not built';
  return null;
}

export interface CommandResult { stdout: string; stderr: string }

/** Runs a command to completion; a failure carries the command and the tail of its output. */
export function run(command: string, args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdin.end(options.input ?? '');
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolvePromise({ stdout, stderr });
      const tail = (stdout + stderr).split('\n').slice(-40).join('\n');
      reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}:\n${tail}`));
    });
  });
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface BaseRecipe {
  name: string;
  /** Debian packages on top of the minbase variant */
  include: string[];
  /** mmdebstrap --customize-hook commands, in order */
  customize: string[];
}

// The machine's node (Debian's nodejs may be another major version), as a Node image would carry it.
const NODE = realpathSync(process.execPath);

const SLIM: string[] = [
  // No manuals, docs or translations: nothing in the images reads them.
  '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/doc/*',
  '--dpkgopt=path-include=/usr/share/doc/*/copyright', '--dpkgopt=path-exclude=/usr/share/locale/*',
  '--dpkgopt=path-exclude=/usr/share/info/*',
];

/** What docker.io/library/node:20-bookworm-slim provides: Debian bookworm and node. Both runtime images use it. */
export const RUNTIME_BASE: BaseRecipe = {
  name: 'runtime',
  include: [],
  customize: [`copy-in ${NODE} /usr/bin`],
};

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function fileSha(path: string): string {
  return sha256(readFileSync(path));
}

/**
 * CACHE_DIR/<prefix>-<key><suffix>, made by `make(partialPath)` unless present. Entries of the same prefix with
 * another key are removed (unless a live process is still making one), so each kind of entry exists once.
 */
async function cached(prefix: string, key: string, suffix: string, make: (partial: string) => Promise<void>): Promise<{ path: string; built: boolean }> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const path = join(CACHE_DIR, `${prefix}-${key}${suffix}`);
  for (const name of readdirSync(CACHE_DIR)) {
    if (!name.startsWith(`${prefix}-`) || join(CACHE_DIR, name) === path) continue;
    const maker = /\.(\d+)\.partial/.exec(name)?.[1];
    if (maker && processAlive(Number(maker))) continue;
    rmSync(join(CACHE_DIR, name), { recursive: true, force: true });
  }
  if (existsSync(path)) return { path, built: false };
  const partial = `${path}.${process.pid}.partial${suffix}`;
  rmSync(partial, { recursive: true, force: true });
  try {
    await make(partial);
    renameSync(partial, path);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return { path, built: true };
}

function baseKey(recipe: BaseRecipe): string {
  return sha256(JSON.stringify({ recipe, slim: SLIM, suite: 'bookworm', node: fileSha(NODE) })).slice(0, 16);
}

/** The base's rootfs tarball, built by mmdebstrap unless cached. */
export async function ensureBaseTarball(recipe: BaseRecipe): Promise<{ path: string; key: string; built: boolean }> {
  const key = baseKey(recipe);
  const entry = await cached(`base-${recipe.name}`, key, '.tar', async (partial) => {
    const args = ['--variant=minbase', '--mode=root', '--quiet',
      // merged /usr without the usrmerge package (and the perl it pulls in)
      '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr', ...SLIM,
      // dpkg without fsync: the tree is thrown away if mmdebstrap fails, and it does not change the tarball's content
      '--dpkgopt=force-unsafe-io'];
    if (recipe.include.length > 0) args.push(`--include=${recipe.include.join(',')}`);
    for (const hook of recipe.customize) args.push(`--customize-hook=${hook}`);
    args.push('bookworm', partial, DEBIAN_MIRROR);
    await run('mmdebstrap', args, { env: { ...process.env, PATH: SYSTEM_PATH } });
  });
  return { ...entry, key };
}

function directoryBytes(dir: string): number {
  // -x: not into the layers a running container has mounted under the storage
  const result = spawnSync('du', ['-sbx', dir], { encoding: 'utf8' });
  return Number(result.stdout.split('\t')[0]) || 0;
}

/**
 * The storage driver: overlay where the kernel mounts it (checked with a real overlay mount, as root, on the cache's
 * filesystem), else vfs, which copies the whole root filesystem for every layer and container (minutes per image).
 * MESHLENS_IMAGE_STORAGE_DRIVER=vfs|overlay overrides the check.
 */
export function storageDriver(): 'overlay' | 'vfs' {
  const forced = process.env.MESHLENS_IMAGE_STORAGE_DRIVER;
  if (forced === 'overlay' || forced === 'vfs') return forced;
  mkdirSync(CACHE_DIR, { recursive: true });
  const probe = mkdtempSync(join(CACHE_DIR, 'overlay-probe-'));
  try {
    for (const dir of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(probe, dir));
    const mounted = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o',
      `lowerdir=${probe}/lower,upperdir=${probe}/upper,workdir=${probe}/work`, join(probe, 'merged')], { stdio: 'ignore' }).status === 0;
    if (mounted) spawnSync('umount', [join(probe, 'merged')], { stdio: 'ignore' });
    return mounted ? 'overlay' : 'vfs';
  } finally {
    spawnSync('rm', ['-rf', '--one-file-system', probe], { stdio: 'ignore' });
  }
}

/** Mount points at or under `path`, deepest first (overlay storage mounts its home and every mounted layer). */
function mountsUnder(path: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' ')[1] ?? '')
    .map((field) => field.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((mount) => mount === path || mount.startsWith(`${path}/`))
    .sort((a, b) => b.length - a.length);
}

/** buildah on a dedicated storage under CACHE_DIR; nothing touches the machine's own containers storage. */
export class Buildah {
  readonly root: string;
  readonly runroot: string;
  readonly driver: 'overlay' | 'vfs';
  private readonly containers = new Set<string>();

  constructor(storageKey: string, driver = storageDriver()) {
    this.driver = driver;
    this.root = join(CACHE_DIR, `storage-${driver}-${storageKey}`);
    this.runroot = join(CACHE_DIR, `runroot-${driver}-${storageKey}`);
    for (const name of existsSync(CACHE_DIR) ? readdirSync(CACHE_DIR) : []) {
      const path = join(CACHE_DIR, name);
      if ((name.startsWith('storage-') || name.startsWith('runroot-')) && path !== this.root && path !== this.runroot) this.wipe(path);
    }
    if (existsSync(this.root) && directoryBytes(this.root) > MAX_STORAGE_BYTES) {
      this.wipe(this.root);
      this.wipe(this.runroot);
    }
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.runroot, { recursive: true });
  }

  private wipe(path: string): void {
    // Unmount what a storage left mounted (a killed run), then rm --one-file-system: never a recursive delete that
    // could follow a mount out of the storage.
    for (const mount of mountsUnder(path)) spawnSync('umount', ['-l', mount], { stdio: 'ignore' });
    spawnSync('rm', ['-rf', '--one-file-system', path], { stdio: 'ignore' });
    if (existsSync(path)) throw new Error(`cannot remove stale buildah storage ${path}`);
  }

  private global(): string[] {
    return ['--root', this.root, '--runroot', this.runroot, '--storage-driver', this.driver];
  }

  buildah(args: string[], options: { input?: string } = {}): Promise<CommandResult> {
    return run('buildah', [...this.global(), ...args], options);
  }

  async hasImage(name: string): Promise<boolean> {
    return spawnSync('buildah', [...this.global(), 'inspect', '--type', 'image', name], { stdio: 'ignore' }).status === 0;
  }

  /** Imports a rootfs tarball as image `name` unless it is already there. */
  async importBase(tarball: string, name: string): Promise<void> {
    if (await this.hasImage(name)) return;
    const container = (await this.buildah(['from', 'scratch'])).stdout.trim();
    try {
      await this.buildah(['add', container, tarball, '/']);
      await this.buildah(['config', '--cmd', '/bin/bash', container]);
      await this.buildah(['commit', '--rm', container, name]);
    } catch (error) {
      await this.buildah(['rm', container]).catch(() => {});
      throw error;
    }
  }

  /** `buildah bud` from the repository root, layers cached in this storage; contexts: `--build-context` name=dir. */
  bud(containerfile: string, tag: string, buildArgs: Record<string, string>, contexts: Record<string, string> = {}): Promise<CommandResult> {
    const args = ['bud', '--isolation', 'chroot', '--layers', '--pull-never', '-f', containerfile, '-t', tag];
    for (const [name, value] of Object.entries(buildArgs)) args.push('--build-arg', `${name}=${value}`);
    for (const [name, dir] of Object.entries(contexts)) args.push('--build-context', `${name}=${dir}`);
    return this.buildah([...args, REPO_ROOT]);
  }

  async inspectImage(name: string): Promise<{ config: { Entrypoint?: string[]; Cmd?: string[]; User?: string; WorkingDir?: string } }> {
    const out = (await this.buildah(['inspect', '--type', 'image', name])).stdout;
    return JSON.parse(out).OCIv1;
  }

  /** A working container; fromOptions e.g. `--security-opt seccomp=unconfined`, fixed when it is created. */
  async from(image: string, fromOptions: string[] = []): Promise<string> {
    const container = (await this.buildah(['from', '--pull-never', ...fromOptions, image])).stdout.trim();
    this.containers.add(container);
    return container;
  }

  /** `buildah run --isolation chroot` to completion. */
  runIn(container: string, command: string[], runOptions: string[] = []): Promise<CommandResult> {
    return this.buildah(['run', '--isolation', 'chroot', ...runOptions, container, '--', ...command]);
  }

  /**
   * `buildah run --isolation chroot` left running; stop it with stopDetached. chroot isolation makes no PID
   * namespace, so the command's PID (echoed first by a shell that then execs it) is its PID on the host, and
   * stopping does not depend on buildah forwarding signals.
   */
  startIn(container: string, command: string[], runOptions: string[] = []): Detached {
    const child = spawn('buildah', [...this.global(), 'run', '--isolation', 'chroot', ...runOptions, container, '--',
      'sh', '-c', 'echo "meshlens-test-pid $$"; exec "$@"', 'sh', ...command], {
      cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    const detached: Detached = { child, pid: undefined };
    const onData = (d: Buffer) => {
      const pid = /^meshlens-test-pid (\d+)$/m.exec(String(d))?.[1];
      if (pid) { detached.pid = Number(pid); child.stdout!.off('data', onData); }
    };
    child.stdout!.on('data', onData);
    return detached;
  }

  async removeContainers(): Promise<void> {
    for (const container of this.containers) await this.buildah(['rm', container]).catch(() => {});
    this.containers.clear();
  }

}

export interface Detached { child: ChildProcess; pid: number | undefined }

/** Ends a detached run: the command in the container by its PID, then buildah's process group (both started here). */
export async function stopDetached({ child, pid }: Detached): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    if (pid !== undefined) { try { process.kill(pid, s); } catch { /* already gone */ } }
    try { process.kill(-child.pid!, s); } catch { /* already gone */ }
  };
  if (child.exitCode !== null || child.signalCode !== null) return signal('SIGKILL');
  const closed = new Promise((r) => child.once('close', r));
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 10_000);
  await closed;
  clearTimeout(timer);
}

/** Resolves with the first stdout line `match` accepts; rejects if the process ends first or `ms` pass. */
export function waitForLine(child: ChildProcess, match: (line: string) => boolean, ms: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let buffer = '';
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no matching line within ${ms} ms; output:\n${output}`)), ms);
    const onData = (d: Buffer) => {
      output += d;
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (match(line)) { clearTimeout(timer); resolvePromise(line); return; }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => { output += d; });
    child.once('close', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code} before a matching line; output:\n${output}`)); });
  });
}

/** The storage every image test shares, keyed by the base it holds, so no test wipes another's cache. */
export function sharedBuildah(): Buildah {
  return new Buildah(baseKey(RUNTIME_BASE));
}

/** The local runtime base imported into the shared storage, as the image name to pass as BASE. */
export async function localBase(buildah: Buildah): Promise<{ image: string; built: boolean }> {
  const runtime = await ensureBaseTarball(RUNTIME_BASE);
  const image = `localhost/meshlens-test/base-runtime:${runtime.key}`;
  await buildah.importBase(runtime.path, image);
  return { image, built: runtime.built };
}

/** Bytes under a directory (du -sb), e.g. an image's mounted root filesystem. */
export function directorySize(dir: string): number {
  return directoryBytes(dir);
}

export type RuntimeImage = 'control-plane' | 'node-agent';
export const CONTAINERFILES: Record<RuntimeImage, string> = {
  'control-plane': 'control-plane/Containerfile',
  'node-agent': 'bpf/Containerfile',
};
const IMAGE_APP = join(REPO_ROOT, 'control-plane/image-app.sh');

// npm started from `npm test` exports npm_* settings (local prefix, lifecycle event) that must not steer the npm
// image-app.sh starts, which should behave as in a build stage.
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
}

function treeHash(paths: string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) {
    const full = join(REPO_ROOT, path);
    const files = statSync(full).isDirectory()
      ? readdirSync(full, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort()
      : [full];
    for (const file of files) hash.update(`${relative(REPO_ROOT, file)}\0`).update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** `image-app.sh deps` on this host: production node_modules, cached on the lock file, the script and node. */
export function stagedDeps(): Promise<{ path: string; built: boolean }> {
  const key = sha256(treeHash(['package.json', 'package-lock.json', 'control-plane/image-app.sh']) + fileSha(NODE)).slice(0, 16);
  return cached('deps', key, '', async (partial) => {
    mkdirSync(partial);
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(REPO_ROOT, file), join(partial, file));
    // The repository's own better-sqlite3 addon, compiled by `npm ci` from the same lock file for this same node (the
    // base's): the image gets those bytes instead of a second compile of SQLite (most of a cold run's time).
    const addon = join(REPO_ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    const installed = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8')).version;
    const locked = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')).packages['node_modules/better-sqlite3']?.version;
    const env = existsSync(addon) && installed === locked ? { ...cleanEnv(), MESHLENS_SQLITE_ADDON: addon } : cleanEnv();
    await run('sh', [IMAGE_APP, 'deps', partial], { env });
  });
}

/** `image-app.sh js` on this host: the compiled JavaScript, cached on everything tsc reads for it. */
export function stagedJs(): Promise<{ path: string; built: boolean }> {
  const key = treeHash(['control-plane/src', 'control-plane/ui', 'control-plane/scripts/build-js.mjs', 'bpf/agent', 'protos',
    'tsconfig.json', 'tsconfig.build.json', 'package.json', 'control-plane/image-app.sh', 'node_modules/typescript/package.json']);
  return cached('js', key, '', async (partial) => {
    await run('sh', [IMAGE_APP, 'js', partial], { env: cleanEnv() });
  });
}

export interface StagedApp {
  /** the directory to pass as `--build-context app=`: holds app/ */
  context: string;
  /** which cached parts were made now */
  built: string[];
  seconds: number;
}

/**
 * What the Containerfile's `app` stage holds, made on this host by the same commands: image-app.sh deps and js, and
 * for the node agent the loader from bpf/Makefile's own rule. A fresh directory per call; remove it with removeApp.
 */
export async function stageApp(image: RuntimeImage): Promise<StagedApp> {
  const started = Date.now();
  const deps = await stagedDeps();
  const js = await stagedJs();
  // Trees a killed run left behind (named by its pid) go first.
  for (const name of readdirSync(CACHE_DIR)) {
    const owner = /^app-[a-z-]+?-(\d+)-/.exec(name)?.[1];
    if (owner && Number(owner) !== process.pid && !processAlive(Number(owner))) rmSync(join(CACHE_DIR, name), { recursive: true, force: true });
  }
  const context = mkdtempSync(join(CACHE_DIR, `app-${image}-${process.pid}-`));
  const app = join(context, 'app');
  cpSync(js.path, app, { recursive: true });
  // Hard links: the cached tree is only read, by buildah's COPY.
  await run('cp', ['-al', join(deps.path, 'node_modules'), join(app, 'node_modules')]);
  if (image === 'node-agent') {
    await run('make', ['-C', join(REPO_ROOT, 'bpf'), '.output/retrans']);
    mkdirSync(join(app, 'bpf/.output'), { recursive: true });
    cpSync(join(REPO_ROOT, 'bpf/.output/retrans'), join(app, 'bpf/.output/retrans'));
  }
  const built = [deps.built && 'node_modules (npm ci --omit=dev)', js.built && 'JavaScript (tsc)'].filter((b): b is string => !!b);
  return { context, built, seconds: (Date.now() - started) / 1000 };
}

export function removeApp(app: StagedApp | undefined): void {
  if (app) rmSync(app.context, { recursive: true, force: true });
}

// BUILD_BASE for builds that supply the app stage: no such image exists and --pull-never forbids fetching one, so a
// build stage that still ran would fail the build instead of quietly building /app another way.
const NO_BUILD_BASE = 'localhost/meshlens-test/no-build-stage-may-run:none';

/** Builds a runtime image's Containerfile on the local base with the staged app, timing it. */
export async function buildImage(buildah: Buildah, base: string, image: RuntimeImage, app: StagedApp, tag: string): Promise<number> {
  const started = Date.now();
  await buildah.bud(CONTAINERFILES[image], tag, { BASE: base, BUILD_BASE: NO_BUILD_BASE }, { app: app.context });
  return (Date.now() - started) / 1000;
}

/** Names of lock-file packages npm marks dev-only: none may be in a runtime image. */
export function devOnlyPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && entry.dev === true)
    .map(([path]) => path.slice('node_modules/'.length));
}

/** The image's root filesystem mounted read-only-by-convention for `use`, then unmounted. */
export async function withMountedImage<T>(buildah: Buildah, image: string, use: (rootfs: string) => T | Promise<T>): Promise<T> {
  const container = await buildah.from(image);
  const rootfs = (await buildah.buildah(['mount', container])).stdout.trim();
  try {
    return await use(rootfs);
  } finally {
    await buildah.buildah(['umount', container]).catch(() => {});
  }
}

/** uvu reports a failed before-hook as failed tests without its error; print it. */
export function loudly(hook: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await hook();
    } catch (error) {
      console.error(error);
      throw error;
    }
  };
}
