#!/usr/bin/env node
// The runner-independent test of every export: plain CommonJS for any Node >= 18, no test
// framework, so the same file runs natively, on linux-arm64 under qemu-user, and on Windows
// under Wine (where Node cannot write to a pipe: every result goes to a file).
//
//   node smoke.js --package DIR --workdir DIR --out FILE [--expect-platform P] [--emulated WHAT]
//
// --package: the directory to require() (an unpacked npm tarball, so node-gyp-build picks the
//   prebuild, or the repository; HARDSYNC_NATIVE still overrides the addon file).
// --workdir: an empty directory to create files in (removed afterwards).
// --out: the result file: one line per check ("ok", "not ok", "skip"), then the
//   totals line "N passed, N failed, N skipped". Exit code 1 when anything failed.
//
// Each export is checked on its supported path, its unsupported path (what this OS does not
// offer must fail with ERR_HARDSYNC_UNSUPPORTED, never run something weaker), its argument
// errors, and its system-error shape, compared with node:fs's for the same input where node
// has the same call. capabilities() is checked against what the calls actually did.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

function parseArguments(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (!name.startsWith('--') || value === undefined) throw new Error(`bad argument ${name}`);
    options[name.slice(2)] = value;
  }
  for (const required of ['package', 'workdir', 'out']) {
    if (!options[required]) throw new Error(`--${required} is required`);
  }
  return options;
}

const options = parseArguments(process.argv.slice(2));
const lines = [];
const counts = { passed: 0, failed: 0, skipped: 0 };
const started = Date.now();

function record(status, name, detail) {
  const line = detail ? `${status} - ${name}: ${detail}` : `${status} - ${name}`;
  lines.push(line);
  if (status === 'ok') counts.passed++;
  else if (status === 'skip') counts.skipped++;
  else counts.failed++;
}

function writeResults() {
  const header = [
    `# hardsync portable smoke test`,
    `# node ${process.version} ${process.platform}-${process.arch}` +
      (options.emulated ? ` (emulated: ${options.emulated})` : ''),
    `# package ${options.package}`,
    `# ${Date.now() - started} ms`,
  ];
  const totals = `${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`;
  fs.writeFileSync(options.out, [...header, ...lines, totals, ''].join('\n'));
  return totals;
}

class CheckFailure extends Error {}

function assert(condition, message) {
  if (!condition) throw new CheckFailure(message);
}

function show(value) {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function assertEqual(actual, expected, what) {
  assert(Object.is(actual, expected), `${what}: expected ${show(expected)}, got ${show(actual)}`);
}

const checks = [];
/** Registers a check; `exports` lists the public names it covers. */
function check(name, exportsCovered, body) {
  checks.push({ name, exports: exportsCovered, body });
}

/** What fn throws (or a Promise's rejection), or null. */
function caught(fn) {
  try {
    fn();
    return null;
  } catch (error) {
    return error;
  }
}

async function rejected(fn) {
  let promise;
  try {
    promise = fn();
  } catch (error) {
    throw new CheckFailure(`threw synchronously instead of rejecting: ${error && error.code} ${error && error.message}`);
  }
  assert(promise instanceof Promise, 'did not return a Promise');
  try {
    await promise;
    return null;
  } catch (error) {
    return error;
  }
}

/** A node:fs-style system error: code, negative errno, syscall, message "CODE: ...". */
function assertSystemError(error, expected, what) {
  assert(error, `${what}: did not fail`);
  assert(error instanceof Error, `${what}: not an Error`);
  if (expected.code) assertEqual(error.code, expected.code, `${what} code`);
  assert(typeof error.code === 'string' && /^E[A-Z0-9]+$/.test(error.code), `${what}: code ${show(error.code)} is not an errno name`);
  assert(Number.isInteger(error.errno) && error.errno < 0, `${what}: errno ${show(error.errno)} is not negative`);
  if (expected.errno !== undefined) assertEqual(error.errno, expected.errno, `${what} errno`);
  assert(typeof error.syscall === 'string' && error.syscall.length > 0, `${what}: no syscall`);
  if (expected.syscall) {
    const allowed = [].concat(expected.syscall);
    assert(allowed.includes(error.syscall), `${what}: syscall ${show(error.syscall)} not one of ${show(allowed)}`);
  }
  assert(error.message.startsWith(`${error.code}: `), `${what}: message ${show(error.message)}`);
  if (expected.path !== undefined) assertEqual(error.path, expected.path, `${what} path`);
  if (expected.dest !== undefined) assertEqual(error.dest, expected.dest, `${what} dest`);
}

function assertUnsupported(error, what, syscallPart) {
  assert(error, `${what}: succeeded although capabilities() says unsupported`);
  assertEqual(error.code, 'ERR_HARDSYNC_UNSUPPORTED', `${what} code`);
  assert(error.errno === undefined, `${what}: an unsupported call must carry no errno`);
  if (syscallPart) assert(String(error.syscall).includes(syscallPart), `${what}: syscall ${show(error.syscall)}`);
}

function assertArgError(error, code, what) {
  assert(error, `${what}: accepted a bad argument`);
  assertEqual(error.code, code, `${what} code`);
  const kind = code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError;
  assert(error instanceof kind, `${what}: ${error.name} instead of ${kind.name}`);
}

// ---------------------------------------------------------------------------------------------

const hs = require(path.resolve(options.package));
const workdir = path.resolve(options.workdir);
fs.mkdirSync(workdir, { recursive: true });
let serial = 0;
function fresh(name = 'file') {
  return path.join(workdir, `${name}-${++serial}`);
}
function fileWith(content = 'hardsync', name) {
  const file = fresh(name);
  fs.writeFileSync(file, content);
  return file;
}
const fdsToClose = [];
function openFd(file, flags) {
  const fd = fs.openSync(file, flags);
  fdsToClose.push(fd);
  return fd;
}
function closeFd(fd) {
  const at = fdsToClose.indexOf(fd);
  if (at >= 0) fdsToClose.splice(at, 1);
  fs.closeSync(fd);
}
// Far above any fd this process has; an integer node:fs accepts, so both fail with EBADF.
const BAD_FD = 0x3fffffff;

const caps = hs.capabilitiesSync();
const supported = (name) => caps.calls[name].supported;
const nodeBadFd = caught(() => fs.fsyncSync(BAD_FD));

// Every export has an entry here; an export added later without a check fails the run.
const EXPECTED_PLATFORM = options['expect-platform'];

check('capabilities: the table names every call, with a boolean and a syscall', ['capabilities', 'capabilitiesSync', 'platform'], async () => {
  const names = ['fsync', 'fdatasync', 'fullFsync', 'barrierFsync', 'syncFileRange', 'syncfs', 'fsyncDir', 'open', 'openDsync', 'openSync', 'openDirect', 'preallocate', 'writeDurable', 'replaceFile', 'dioAlignment', 'lockFile', 'mapFile', 'msync', 'mapSync'];
  for (const name of names) {
    const row = caps.calls[name];
    assert(row && typeof row.supported === 'boolean' && typeof row.syscall === 'string' && row.syscall.length > 0, `row ${name}: ${show(row)}`);
  }
  assertEqual(caps.platform, hs.platform, 'capabilities().platform');
  if (EXPECTED_PLATFORM) assertEqual(hs.platform, EXPECTED_PLATFORM, 'platform');
  // The addon's own idea of the OS and node's must agree: a prebuild for the wrong OS loaded.
  const nodeName = { linux: 'linux', win32: 'win32', darwin: 'darwin', freebsd: 'freebsd' }[process.platform];
  assertEqual(hs.platform, nodeName, 'platform vs process.platform');
  const asynchronous = await hs.capabilities();
  assertEqual(show(asynchronous), show(caps), 'capabilities() vs capabilitiesSync()');
  const probed = hs.capabilitiesSync(workdir);
  assertEqual(probed.path, workdir, 'probed path');
  assert(probed.dioAlignment && Number.isInteger(probed.dioAlignment.memory), `probed dioAlignment ${show(probed.dioAlignment)}`);
  const probedAsync = await hs.capabilities(workdir);
  assertEqual(probedAsync.calls.openDirect.supported, probed.calls.openDirect.supported, 'probe openDirect async vs sync');
  assert(fs.readdirSync(workdir).every((name) => !name.startsWith('.hardsync-probe')), 'probe file left behind');
  assertArgError(caught(() => hs.capabilitiesSync(42)), 'ERR_INVALID_ARG_TYPE', 'capabilitiesSync(42)');
});

check('engine: which engine runs async flushes, the same in capabilities()', ['engine'], async () => {
  const { engine } = hs;
  assert(['io_uring', 'threads', 'libuv-threadpool'].includes(engine.name), `engine.name ${show(engine.name)}`);
  assert(Object.isFrozen(engine), 'engine is not frozen');
  assertEqual(show(caps.engine), show(engine), 'capabilitiesSync().engine');
  assertEqual(show((await hs.capabilities()).engine), show(engine), 'capabilities().engine');
  // io_uring only where the OS has it; elsewhere the thread engine, saying why.
  if (engine.name === 'io_uring') assertEqual(hs.platform, 'linux', 'io_uring engine off Linux');
  if (engine.name === 'threads' && engine.requested !== 'threads') assert(engine.reason.length > 0, 'no reason given for not using io_uring');
  assert(engine.name === 'libuv-threadpool' ? engine.flushThreads === 0 : engine.flushThreads >= 1, `flushThreads ${engine.flushThreads}`);
  // A flush completes through whichever engine it is.
  const file = path.join(workdir, 'engine.bin');
  const fd = fs.openSync(file, 'w+');
  try {
    assertEqual(await hs.writeDurable(fd, Buffer.from('engine'), 0, { flush: 'data' }), 6, 'writeDurable through the engine');
    await hs.fdatasync(fd);
  } finally {
    fs.closeSync(fd);
  }
});

check('constants: numbers, the sync flags match the OS', ['constants'], () => {
  for (const [name, value] of Object.entries(hs.constants)) assert(Number.isInteger(value), `${name} = ${show(value)}`);
  assert(Object.isFrozen(hs.constants), 'constants is not frozen');
  assertEqual(hs.constants.O_DSYNC !== 0, supported('openDsync'), 'O_DSYNC present iff openDsync supported');
  if (hs.platform === 'linux') {
    assertEqual(hs.constants.O_DSYNC, fs.constants.O_DSYNC, 'O_DSYNC vs node');
    assertEqual(hs.constants.O_DIRECT, fs.constants.O_DIRECT, 'O_DIRECT vs node');
    assert(hs.constants.SYNC_FILE_RANGE_WRITE !== 0, 'SYNC_FILE_RANGE_WRITE');
  } else {
    assertEqual(hs.constants.SYNC_FILE_RANGE_WRITE, 0, 'SYNC_FILE_RANGE_WRITE off Linux');
  }
});

// ---------------------------------------------------------------------------------------------
// The four flushes of one file

const nodeFlush = { fsync: fs.fsyncSync, fdatasync: fs.fdatasyncSync };
for (const name of ['fsync', 'fdatasync', 'fullFsync', 'barrierFsync']) {
  const syncName = `${name}Sync`;
  check(`${name}: a writable fd`, [name, syncName], async () => {
    const fd = openFd(fileWith(), 'r+');
    fs.writeSync(fd, 'more');
    const syncError = caught(() => hs[syncName](fd));
    const asyncError = await rejected(() => hs[name](fd));
    if (supported(name)) {
      assertEqual(syncError, null, `${syncName} failed: ${syncError && syncError.message}`);
      assertEqual(asyncError, null, `${name} rejected: ${asyncError && asyncError.message}`);
    } else {
      assertUnsupported(syncError, syncName);
      assertUnsupported(asyncError, name);
    }
    closeFd(fd);
  });
  check(`${name}: bad fd is EBADF shaped like node:fs`, [name, syncName], async () => {
    if (!supported(name)) return 'skip: unsupported here';
    assertSystemError(caught(() => hs[syncName](BAD_FD)), { code: 'EBADF', errno: nodeBadFd.errno }, syncName);
    assertSystemError(await rejected(() => hs[name](BAD_FD)), { code: 'EBADF', errno: nodeBadFd.errno }, name);
  });
  check(`${name}: argument errors before any I/O`, [name, syncName], async () => {
    assertArgError(caught(() => hs[syncName]('3')), 'ERR_INVALID_ARG_TYPE', `${syncName}('3')`);
    assertArgError(caught(() => hs[syncName](-1)), 'ERR_OUT_OF_RANGE', `${syncName}(-1)`);
    assertArgError(caught(() => hs[syncName](1.5)), 'ERR_OUT_OF_RANGE', `${syncName}(1.5)`);
    assertArgError(await rejected(() => hs[name](undefined)), 'ERR_INVALID_ARG_TYPE', `${name}(undefined)`);
  });
  if (nodeFlush[name]) {
    // Windows: FlushFileBuffers needs write access, so a read-only fd fails (EPERM) there and
    // succeeds on POSIX; whatever node:fs does with the same fd, hardsync must do too.
    check(`${name}: a read-only fd behaves as node:fs's ${name}`, [name, syncName], () => {
      const fd = openFd(fileWith(), 'r');
      const nodeError = caught(() => nodeFlush[name](fd));
      const ours = caught(() => hs[syncName](fd));
      if (nodeError === null) assertEqual(ours, null, `node succeeded, hardsync threw ${ours && ours.message}`);
      else assertSystemError(ours, { code: nodeError.code, errno: nodeError.errno }, syncName);
      closeFd(fd);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Linux-only calls

check('syncFileRange: supported path, or ERR_HARDSYNC_UNSUPPORTED', ['syncFileRange', 'syncFileRangeSync'], async () => {
  const flags = hs.constants.SYNC_FILE_RANGE_WAIT_BEFORE | hs.constants.SYNC_FILE_RANGE_WRITE | hs.constants.SYNC_FILE_RANGE_WAIT_AFTER;
  const fd = openFd(fileWith('x'.repeat(10000)), 'r+');
  const syncError = caught(() => hs.syncFileRangeSync(fd, 0, 0, flags));
  const asyncError = await rejected(() => hs.syncFileRange(fd, 0, 4096, flags));
  if (supported('syncFileRange')) {
    assertEqual(syncError, null, `failed: ${syncError && syncError.message}`);
    assertEqual(asyncError, null, `rejected: ${asyncError && asyncError.message}`);
    assertSystemError(caught(() => hs.syncFileRangeSync(BAD_FD, 0, 0, flags)), { code: 'EBADF', syscall: 'sync_file_range' }, 'bad fd');
  } else {
    assertUnsupported(syncError, 'syncFileRangeSync', 'sync_file_range');
    assertUnsupported(asyncError, 'syncFileRange', 'sync_file_range');
  }
  assertArgError(caught(() => hs.syncFileRangeSync(fd, 0, 0, 8)), 'ERR_OUT_OF_RANGE', 'flags 8');
  assertArgError(caught(() => hs.syncFileRangeSync(fd, -1, 0, 0)), 'ERR_OUT_OF_RANGE', 'offset -1');
  assertArgError(caught(() => hs.syncFileRangeSync(fd, 0, '1', 0)), 'ERR_INVALID_ARG_TYPE', "nbytes '1'");
  closeFd(fd);
});

check('syncfs: supported path, or ERR_HARDSYNC_UNSUPPORTED', ['syncfs', 'syncfsSync'], async () => {
  const fd = openFd(fileWith(), 'r');
  const syncError = caught(() => hs.syncfsSync(fd));
  const asyncError = await rejected(() => hs.syncfs(fd));
  if (supported('syncfs')) {
    assertEqual(syncError, null, `failed: ${syncError && syncError.message}`);
    assertEqual(asyncError, null, `rejected: ${asyncError && asyncError.message}`);
    assertSystemError(caught(() => hs.syncfsSync(BAD_FD)), { code: 'EBADF', syscall: 'syncfs' }, 'bad fd');
  } else {
    assertUnsupported(syncError, 'syncfsSync', 'syncfs');
    assertUnsupported(asyncError, 'syncfs', 'syncfs');
  }
  assertArgError(caught(() => hs.syncfsSync(null)), 'ERR_INVALID_ARG_TYPE', 'syncfsSync(null)');
  closeFd(fd);
});

check('fsyncDir: a directory, a missing one, or ERR_HARDSYNC_UNSUPPORTED with the path', ['fsyncDir', 'fsyncDirSync'], async () => {
  const missing = path.join(workdir, 'no-such-dir');
  if (supported('fsyncDir')) {
    hs.fsyncDirSync(workdir);
    await hs.fsyncDir(workdir);
    const nodeMissing = caught(() => fs.openSync(missing, 'r'));
    assertSystemError(caught(() => hs.fsyncDirSync(missing)), { code: 'ENOENT', errno: nodeMissing.errno, syscall: 'open', path: missing }, 'missing dir');
    assertSystemError(await rejected(() => hs.fsyncDir(missing)), { code: 'ENOENT', path: missing }, 'missing dir (async)');
  } else {
    const error = caught(() => hs.fsyncDirSync(workdir));
    assertUnsupported(error, 'fsyncDirSync');
    assertEqual(error.path, workdir, 'unsupported error path');
    assertUnsupported(await rejected(() => hs.fsyncDir(workdir)), 'fsyncDir');
  }
  assertArgError(caught(() => hs.fsyncDirSync(42)), 'ERR_INVALID_ARG_TYPE', 'fsyncDirSync(42)');
  assertArgError(caught(() => hs.fsyncDirSync('')), 'ERR_INVALID_ARG_VALUE', "fsyncDirSync('')");
  assertArgError(caught(() => hs.fsyncDirSync('a\0b')), 'ERR_INVALID_ARG_VALUE', 'fsyncDirSync(NUL)');
});

// ---------------------------------------------------------------------------------------------
// open

check('open: create, write through node:fs, read back, close with node:fs', ['open', 'openSync'], async () => {
  const file = fresh();
  const fd = hs.openSync(file, { write: true, create: true, exclusive: true });
  assert(Number.isInteger(fd) && fd >= 0, `fd ${show(fd)}`);
  assertEqual(fs.writeSync(fd, 'written by node:fs'), 18, 'bytes written through the fd');
  fs.closeSync(fd);
  assertEqual(fs.readFileSync(file, 'utf8'), 'written by node:fs', 'content');
  const readFd = await hs.open(file);
  assertEqual(fs.readFileSync(readFd, 'utf8'), 'written by node:fs', 'read through async-opened fd');
  fs.closeSync(readFd);
});

check('open: EEXIST and ENOENT shaped like node:fs, with path and syscall', ['open', 'openSync'], async () => {
  const existing = fileWith();
  const nodeExists = caught(() => fs.openSync(existing, 'wx'));
  assertSystemError(caught(() => hs.openSync(existing, { write: true, create: true, exclusive: true })), { code: 'EEXIST', errno: nodeExists.errno, syscall: 'open', path: existing }, 'exclusive on existing');
  const missing = fresh('missing');
  const nodeMissing = caught(() => fs.openSync(missing, 'r'));
  assertSystemError(await rejected(() => hs.open(missing)), { code: 'ENOENT', errno: nodeMissing.errno, syscall: 'open', path: missing }, 'missing file');
  assertArgError(caught(() => hs.openSync(123)), 'ERR_INVALID_ARG_TYPE', 'openSync(123)');
  assertArgError(caught(() => hs.openSync(existing, { write: 'yes' })), 'ERR_INVALID_ARG_TYPE', 'write: "yes"');
  assertArgError(caught(() => hs.openSync(existing, { create: true, mode: 0o10000 })), 'ERR_OUT_OF_RANGE', 'mode 0o10000');
  assertArgError(await rejected(() => hs.open(existing, 'r')), 'ERR_INVALID_ARG_TYPE', "open(p, 'r')");
});

check('open dsync / sync: writes work, and dsync+sync does what node:fs does with the same flags', ['open', 'openSync'], () => {
  for (const mode of ['dsync', 'sync']) {
    const capability = mode === 'dsync' ? 'openDsync' : 'openSync';
    const file = fresh(mode);
    const error = caught(() => {
      const fd = hs.openSync(file, { write: true, create: true, [mode]: true });
      fs.writeSync(fd, 'synchronous');
      fs.closeSync(fd);
    });
    if (supported(capability)) {
      assertEqual(error, null, `${mode}: ${error && error.message}`);
      assertEqual(fs.readFileSync(file, 'utf8'), 'synchronous', `${mode} content`);
    } else {
      assertUnsupported(error, mode);
    }
  }
  // Windows (libuv): O_DSYNC|O_SYNC together is EINVAL; POSIX takes both. Same flags to node.
  const c = hs.constants;
  if (c.O_DSYNC && c.O_SYNC) {
    const file = fileWith();
    const nodeResult = caught(() => fs.closeSync(fs.openSync(file, c.O_WRONLY | c.O_DSYNC | c.O_SYNC)));
    const ours = caught(() => fs.closeSync(hs.openSync(file, { write: true, dsync: true, sync: true })));
    if (nodeResult === null) assertEqual(ours, null, `node opened it, hardsync threw ${ours && ours.message}`);
    else assertSystemError(ours, { code: nodeResult.code, syscall: 'open' }, 'dsync+sync');
  }
});

check('open direct: capabilities(dir), dioAlignment and a real O_DIRECT open agree', ['open', 'openSync', 'dioAlignment', 'dioAlignmentSync'], () => {
  const probed = hs.capabilitiesSync(workdir);
  const file = fresh('direct');
  const error = caught(() => fs.closeSync(hs.openSync(file, { write: true, create: true, direct: true })));
  if (!supported('openDirect')) {
    assertUnsupported(error, 'direct');
    return undefined;
  }
  assertEqual(error === null, probed.calls.openDirect.supported, `probe said ${probed.calls.openDirect.supported}, open ${error ? 'failed: ' + error.message : 'worked'}`);
  if (error !== null) return undefined;
  // Where direct I/O opens, its alignment must not read "no direct I/O" (0).
  const alignment = hs.dioAlignmentSync(file);
  if (!(alignment.memory > 0 && alignment.offset > 0) && options.emulated && hs.platform === 'linux') {
    // qemu-user 7.2 passes statx's STATX_DIOALIGN mask bit through but not the
    // stx_dio_* fields, so an emulated process reads 0/0 on a filesystem that takes O_DIRECT.
    return `skip: emulator reports dioAlignment ${show(alignment)} (qemu-user does not copy statx's stx_dio_* fields)`;
  }
  assert(alignment.memory > 0 && alignment.offset > 0, `dioAlignment ${show(alignment)} on a file that opened with direct`);
  const fd = hs.openSync(file, { write: true, direct: true });
  const block = Math.max(alignment.offset, alignment.memory);
  const buffer = hs.allocAligned(block, alignment.memory);
  buffer.fill(7);
  assertEqual(hs.writeDurableSync(fd, buffer, 0, { flush: 'data' }), block, 'aligned direct write');
  fs.closeSync(fd);
  assertEqual(fs.statSync(file).size, block, 'size after direct write');
  return undefined;
});

check('open nofollow on a plain file: opens, or is refused as unsupported (never ignored)', ['open', 'openSync'], async () => {
  const file = fileWith('plain');
  const error = caught(() => fs.closeSync(hs.openSync(file, { nofollow: true })));
  const asyncError = await rejected(() => hs.open(file, { nofollow: true }).then((fd) => fs.closeSync(fd)));
  if (hs.platform === 'win32') {
    // Windows has no O_NOFOLLOW; only create + exclusive (CREATE_NEW) keeps that promise.
    assertUnsupported(error, 'nofollow read open', 'nofollow');
    assertUnsupported(asyncError, 'nofollow read open (async)', 'nofollow');
  } else {
    assertEqual(error, null, `nofollow open failed: ${error && error.message}`);
    assertEqual(asyncError, null, `nofollow open rejected: ${asyncError && asyncError.message}`);
  }
});

check('open nofollow: a symbolic link is never followed', ['open', 'openSync'], () => {
  const target = fileWith('target');
  const link = fresh('link');
  const linkError = caught(() => fs.symlinkSync(target, link));
  if (linkError) return `skip: cannot create a symbolic link here (${linkError.code})`;
  // Wine 8 reports success from CreateSymbolicLinkW and creates nothing.
  const made = caught(() => assert(fs.lstatSync(link).isSymbolicLink(), 'not a link'));
  if (made) return `skip: fs.symlinkSync reported success but made no symbolic link (${made.code || made.message})`;
  const error = caught(() => fs.closeSync(hs.openSync(link, { nofollow: true })));
  assert(error, 'opened through a symbolic link with nofollow');
  if (error.code !== 'ERR_HARDSYNC_UNSUPPORTED') assertSystemError(error, { code: 'ELOOP', syscall: 'open', path: link }, 'nofollow on a link');
  // create + exclusive + nofollow (what an atomic-replace temp file uses) works everywhere.
  const file = fresh();
  fs.closeSync(hs.openSync(file, { write: true, create: true, exclusive: true, nofollow: true }));
  assertSystemError(caught(() => hs.openSync(link, { write: true, create: true, exclusive: true, nofollow: true })), { code: 'EEXIST', path: link }, 'exclusive create over a link');
  return undefined;
});

// ---------------------------------------------------------------------------------------------
// preallocate, writeDurable

check('preallocate: extends the file, errors shaped like node:fs', ['preallocate', 'preallocateSync'], async () => {
  const fd = openFd(fileWith(''), 'r+');
  hs.preallocateSync(fd, 0, 8192);
  assertEqual(fs.fstatSync(fd).size, 8192, 'size after preallocate');
  await hs.preallocate(fd, 8192, 4096);
  assertEqual(fs.fstatSync(fd).size, 12288, 'size after async preallocate');
  hs.preallocateSync(fd, 0, 100);
  assertEqual(fs.fstatSync(fd).size, 12288, 'preallocate inside the file must not shrink it');
  closeFd(fd);
  assertSystemError(caught(() => hs.preallocateSync(BAD_FD, 0, 10)), { code: 'EBADF', errno: nodeBadFd.errno }, 'bad fd');
  const readOnly = openFd(fileWith(''), 'r');
  assertSystemError(caught(() => hs.preallocateSync(readOnly, 0, 4096)), {}, 'read-only fd');
  closeFd(readOnly);
  assertArgError(caught(() => hs.preallocateSync(0, 0, 0)), 'ERR_OUT_OF_RANGE', 'length 0');
  assertArgError(await rejected(() => hs.preallocate(0, -1, 1)), 'ERR_OUT_OF_RANGE', 'offset -1');
});

const flushCapability = { data: 'fdatasync', full: 'fullFsync', fsync: 'fsync', barrier: 'barrierFsync', none: null };
check('writeDurable: every flush mode writes all bytes and flushes (or reports unsupported)', ['writeDurable', 'writeDurableSync'], async () => {
  for (const [flush, capability] of Object.entries(flushCapability)) {
    const file = fileWith('');
    const fd = openFd(file, 'r+');
    const data = Buffer.from(`flush=${flush};`.repeat(300));
    const syncResult = caught(() => assertEqual(hs.writeDurableSync(fd, data, 0, { flush }), data.length, `${flush} sync result`));
    let asyncResult = null;
    try {
      assertEqual(await hs.writeDurable(fd, new Uint8Array(data), data.length, { flush }), data.length, `${flush} async result`);
    } catch (error) {
      asyncResult = error;
    }
    if (capability === null || supported(capability)) {
      if (syncResult) throw syncResult;
      if (asyncResult) throw asyncResult;
      assertEqual(fs.readFileSync(file, 'latin1'), data.toString('latin1').repeat(2), `${flush} content`);
    } else {
      assertUnsupported(syncResult, `flush ${flush}`);
      assertUnsupported(asyncResult, `flush ${flush} (async)`);
    }
    closeFd(fd);
  }
});

check('writeDurable: positioned write leaves the file position alone (as pwrite / node:fs)', ['writeDurable', 'writeDurableSync'], () => {
  const file = fileWith('');
  const fd = openFd(file, 'r+');
  hs.writeDurableSync(fd, Buffer.from('AAAA'), 10, { flush: 'none' });
  fs.writeSync(fd, 'B');
  const content = fs.readFileSync(file, 'latin1');
  assertEqual(content[0], 'B', `a write at the current position after a positioned one went elsewhere: ${show(content)}`);
  hs.writeDurableSync(fd, Buffer.from('C'), null, { flush: 'none' });
  assertEqual(fs.readFileSync(file, 'latin1').slice(0, 2), 'BC', 'position null continues at the current position');
  closeFd(fd);
});

check('writeDurable: the Promise form copies the data at the call', ['writeDurable'], async () => {
  const file = fileWith('');
  const fd = openFd(file, 'r+');
  const data = Buffer.alloc(65536, 1);
  const pending = hs.writeDurable(fd, data, 0, { flush: 'none' });
  data.fill(2);
  await pending;
  assert(fs.readFileSync(file).every((byte) => byte === 1), 'bytes changed after the call reached the file');
  closeFd(fd);
});

check('writeDurable: errors carry bytesWritten and match node:fs on a read-only fd', ['writeDurable', 'writeDurableSync'], async () => {
  const readOnly = openFd(fileWith(''), 'r');
  const nodeError = caught(() => fs.writeSync(readOnly, 'x'));
  assert(nodeError, 'node:fs wrote to a read-only fd');
  const ours = caught(() => hs.writeDurableSync(readOnly, Buffer.from('x'), null));
  assertSystemError(ours, { code: nodeError.code, errno: nodeError.errno }, 'read-only fd');
  assertEqual(ours.bytesWritten, 0, 'bytesWritten');
  const asyncError = await rejected(() => hs.writeDurable(readOnly, Buffer.from('x'), 0));
  assertSystemError(asyncError, { code: nodeError.code }, 'read-only fd (async)');
  assertEqual(asyncError.bytesWritten, 0, 'bytesWritten (async)');
  closeFd(readOnly);
  assertSystemError(caught(() => hs.writeDurableSync(BAD_FD, Buffer.from('x'), 0)), { code: 'EBADF', errno: nodeBadFd.errno }, 'bad fd');
  assertArgError(caught(() => hs.writeDurableSync(0, 'text', 0)), 'ERR_INVALID_ARG_TYPE', 'string data');
  assertArgError(caught(() => hs.writeDurableSync(0, Buffer.alloc(1), 0, { flush: 'bogus' })), 'ERR_INVALID_ARG_VALUE', 'flush bogus');
  assertArgError(await rejected(() => hs.writeDurable(0, Buffer.alloc(1), -5)), 'ERR_OUT_OF_RANGE', 'position -5');
});

// ---------------------------------------------------------------------------------------------
// replaceFile

check('replaceFile: replaces atomically; errors as node:fs rename with path and dest', ['replaceFile', 'replaceFileSync'], async () => {
  const from = fileWith('new');
  const to = fileWith('old');
  hs.replaceFileSync(from, to);
  assertEqual(fs.readFileSync(to, 'utf8'), 'new', 'content after replace');
  assert(!fs.existsSync(from), 'source still there');
  const from2 = fileWith('newer');
  await hs.replaceFile(from2, to);
  assertEqual(fs.readFileSync(to, 'utf8'), 'newer', 'content after async replace');
  const missing = fresh('missing');
  const nodeMissing = caught(() => fs.renameSync(missing, to));
  assertSystemError(caught(() => hs.replaceFileSync(missing, to)), { code: nodeMissing.code, errno: nodeMissing.errno, path: missing, dest: to }, 'missing source');
  const directory = fresh('dir');
  fs.mkdirSync(directory);
  const source = fileWith('x');
  const nodeOnDir = caught(() => fs.renameSync(source, directory));
  const oursOnDir = caught(() => hs.replaceFileSync(source, directory));
  if (nodeOnDir === null) {
    assertEqual(oursOnDir, null, 'node replaced a directory, hardsync did not');
  } else {
    assertSystemError(oursOnDir, { code: nodeOnDir.code, path: source, dest: directory }, 'onto a directory');
  }
  assertArgError(caught(() => hs.replaceFileSync(from, 5)), 'ERR_INVALID_ARG_TYPE', 'to = 5');
});

// ---------------------------------------------------------------------------------------------
// locks

check('lockFile / unlockFile: exclusive excludes another open, shared shares, unlock frees', ['lockFile', 'lockFileSync', 'unlockFile', 'unlockFileSync'], async () => {
  const file = fileWith('lock');
  const first = openFd(file, 'r+');
  const second = openFd(file, 'r+');
  hs.lockFileSync(first);
  const busy = caught(() => hs.lockFileSync(second));
  assertSystemError(busy, { syscall: ['flock', 'LockFileEx'] }, 'second exclusive lock');
  // A held lock is EAGAIN on every OS (win32.cc maps LockFileEx's lock violation to it).
  assert(busy.code === 'EAGAIN', `busy code ${busy.code}`);
  const busyAsync = await rejected(() => hs.lockFile(second, { shared: true }));
  assertSystemError(busyAsync, { code: busy.code }, 'shared lock while exclusive held');
  hs.unlockFileSync(first);
  await hs.lockFile(second, { shared: true });
  hs.lockFileSync(first, { shared: true });
  await hs.unlockFile(first);
  hs.unlockFileSync(second);
  // Unlocking what is not locked is not an error (flock(LOCK_UN) semantics, on every OS).
  hs.unlockFileSync(second);
  await hs.lockFile(first, { wait: true });
  hs.unlockFileSync(first);
  closeFd(first);
  closeFd(second);
  assertSystemError(caught(() => hs.lockFileSync(BAD_FD)), { code: 'EBADF' }, 'bad fd');
  assertArgError(caught(() => hs.lockFileSync(0, { shared: 1 })), 'ERR_INVALID_ARG_TYPE', 'shared: 1');
  assertArgError(caught(() => hs.unlockFileSync('0')), 'ERR_INVALID_ARG_TYPE', "unlockFileSync('0')");
});

// ---------------------------------------------------------------------------------------------
// alignment

check('dioAlignment: fd and path forms, ENOENT with path', ['dioAlignment', 'dioAlignmentSync'], async () => {
  const file = fileWith();
  const fd = openFd(file, 'r');
  for (const result of [hs.dioAlignmentSync(fd), hs.dioAlignmentSync(file), await hs.dioAlignment(workdir)]) {
    assert(Number.isInteger(result.memory) && Number.isInteger(result.offset) && typeof result.source === 'string' && result.source.length > 0, show(result));
  }
  closeFd(fd);
  const missing = fresh('missing');
  const error = caught(() => hs.dioAlignmentSync(missing));
  assertSystemError(error, { code: 'ENOENT', path: missing }, 'missing path');
  assertArgError(caught(() => hs.dioAlignmentSync({})), 'ERR_INVALID_ARG_TYPE', 'dioAlignmentSync({})');
});

check('allocAligned / isAligned / MAX_ALIGNMENT', ['allocAligned', 'isAligned', 'MAX_ALIGNMENT'], () => {
  for (const alignment of [512, 4096, 65536]) {
    const buffer = hs.allocAligned(1000, alignment);
    assertEqual(buffer.length, 1000, 'length');
    assert(hs.isAligned(buffer, alignment), `not aligned to ${alignment}`);
    assert(!hs.isAligned(buffer.subarray(1), 2), 'an odd address reads as aligned');
    assert(buffer.every((byte) => byte === 0), 'not zero-filled');
  }
  assert(hs.isAligned(hs.allocAligned(10), 512), 'default alignment is at least 512');
  assert(Number.isInteger(hs.MAX_ALIGNMENT) && hs.MAX_ALIGNMENT >= 4096, `MAX_ALIGNMENT ${hs.MAX_ALIGNMENT}`);
  assertArgError(caught(() => hs.allocAligned(10, 3)), 'ERR_OUT_OF_RANGE', 'alignment 3');
  assertArgError(caught(() => hs.allocAligned(-1, 512)), 'ERR_OUT_OF_RANGE', 'size -1');
  assertArgError(caught(() => hs.isAligned('x', 512)), 'ERR_INVALID_ARG_TYPE', 'isAligned(string)');
});

// ---------------------------------------------------------------------------------------------
// Patterns

check('writeFileAtomic / writeFileAtomicSync: content replaced, no temp file left, errors carry the path', ['writeFileAtomic', 'writeFileAtomicSync'], async () => {
  const file = fileWith('old content');
  hs.writeFileAtomicSync(file, 'new content');
  assertEqual(fs.readFileSync(file, 'utf8'), 'new content', 'sync content');
  await hs.writeFileAtomic(file, [Buffer.from('chunk one, '), 'chunk two']);
  assertEqual(fs.readFileSync(file, 'utf8'), 'chunk one, chunk two', 'async content from chunks');
  const leftovers = fs.readdirSync(workdir).filter((name) => name.includes(path.basename(file)) && name !== path.basename(file));
  assertEqual(leftovers.length, 0, `temp files left: ${show(leftovers)}`);
  const inMissingDir = path.join(workdir, 'no-such-dir', 'file');
  const error = await rejected(() => hs.writeFileAtomic(inMissingDir, 'x'));
  assertSystemError(error, { code: 'ENOENT' }, 'missing directory');
  assert(typeof error.path === 'string' && error.path.length > 0, 'error without a path');
  assertArgError(caught(() => hs.writeFileAtomicSync(123, 'x')), 'ERR_INVALID_ARG_TYPE', 'path 123');
});

check('cleanupAtomicTemps / cleanupAtomicTempsSync: a live write\'s temp and unknown names are kept', ['cleanupAtomicTemps', 'cleanupAtomicTempsSync'], async () => {
  const file = fileWith('old');
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  let started;
  const begun = new Promise((resolve) => (started = resolve));
  async function* slowChunks() {
    yield 'a';
    started();
    await gate;
    yield 'b';
  }
  const writing = hs.writeFileAtomic(file, slowChunks());
  await begun;
  const temps = () => fs.readdirSync(workdir).filter((name) => name.startsWith(`.${path.basename(file)}.`) && name.endsWith('.tmp'));
  assertEqual(temps().length, 1, 'temps while the write runs');
  const stranger = path.join(workdir, `.${path.basename(file)}.${'0123456789abcdef01'}.tmp`);
  fs.writeFileSync(stranger, 'not a temp that names its writer');
  assertEqual((await hs.cleanupAtomicTemps(file)).length, 0, 'removed by cleanupAtomicTemps');
  assertEqual(hs.cleanupAtomicTempsSync(file).length, 0, 'removed by cleanupAtomicTempsSync');
  assertEqual(temps().length, 2, 'temps kept');
  release();
  await writing;
  assertEqual(fs.readFileSync(file, 'utf8'), 'ab', 'content');
  fs.rmSync(stranger);
  assertSystemError(await rejected(() => hs.cleanupAtomicTemps(path.join(workdir, 'no-such-dir', 'file'))), { code: 'ENOENT' }, 'missing directory');
});

check('writeFileSecret / writeFileSecretSync: content, and 0o600 where modes exist', ['writeFileSecret', 'writeFileSecretSync'], async () => {
  const file = fresh('secret');
  hs.writeFileSecretSync(file, 'hunter2');
  assertEqual(fs.readFileSync(file, 'utf8'), 'hunter2', 'sync content');
  await hs.writeFileSecret(file, Buffer.from('hunter3'));
  assertEqual(fs.readFileSync(file, 'utf8'), 'hunter3', 'async content');
  if (process.platform !== 'win32') assertEqual(fs.statSync(file).mode & 0o777, 0o600, 'mode');
  assertArgError(caught(() => hs.writeFileSecretSync(file, 42)), 'ERR_INVALID_ARG_TYPE', 'data 42');
});

check('createDurable / createDurableSync: a new file, EEXIST when it exists', ['createDurable', 'createDurableSync'], async () => {
  const file = fresh('durable');
  const fd = hs.createDurableSync(file);
  fs.writeSync(fd, 'abc');
  fs.closeSync(fd);
  assertEqual(fs.readFileSync(file, 'utf8'), 'abc', 'content through the returned fd');
  assertSystemError(await rejected(() => hs.createDurable(file)), { code: 'EEXIST' }, 'existing file');
  const fd2 = await hs.createDurable(fresh('durable'));
  fs.closeSync(fd2);
});

check('DurableLog: append, close, reopen and read back in order', ['DurableLog'], async () => {
  const directory = fresh('log');
  const log = await hs.DurableLog.open(directory, { segmentSize: 1 << 20 });
  const acks = await Promise.all(['one', 'two', 'three'].map((text) => log.append(text)));
  assertEqual(show(acks.map((ack) => ack.lsn)), '[1,2,3]', 'lsns');
  await log.close();
  const reopened = await hs.DurableLog.open(directory, { segmentSize: 1 << 20 });
  assertEqual(reopened.recovery.records, 3, 'records recovered');
  const seen = [];
  for await (const record of reopened.records()) seen.push(`${record.lsn}:${record.data.toString()}`);
  assertEqual(show(seen), show(['1:one', '2:two', '3:three']), 'records');
  await reopened.close();
  assertArgError(await rejected(() => hs.DurableLog.open(42)), 'ERR_INVALID_ARG_TYPE', 'open(42)');
});

check('open: a file open for reading can be renamed, and read through its fd after (Windows: share-delete)', ['open', 'openSync', 'replaceFile', 'replaceFileSync'], async () => {
  // What DurableLog's truncateBefore does to a segment a reader holds open.
  const file = fileWith('held by a reader');
  const aside = fresh('aside');
  const fd = await hs.open(file);
  fdsToClose.push(fd);
  await hs.replaceFile(file, aside);
  assert(!fs.existsSync(file), 'the old name is gone');
  const buffer = Buffer.alloc(16);
  assertEqual(fs.readSync(fd, buffer, 0, 16, 0), 16, 'bytes read through the fd after the rename');
  assertEqual(buffer.toString(), 'held by a reader', 'content through the fd');
  const fd2 = hs.openSync(aside);
  fdsToClose.push(fd2);
  fs.renameSync(aside, file);
  closeFd(fd);
  closeFd(fd2);
  fs.unlinkSync(file);
  assert(!fs.existsSync(file), 'unlinked once closed');
});

check('DurableLog: truncateBefore with a reader holding the segments sets them aside, a follower follows, reopen starts at the truncation point', ['DurableLog'], async () => {
  const directory = fresh('log');
  const log = await hs.DurableLog.open(directory, { segmentSize: 1024 });
  for (let i = 1; i <= 30; i++) await log.append(`record ${i} ${'.'.repeat(90)}`);
  const follower = log.records(log.nextLsn, { follow: true });
  const followed = follower.next();
  const reader = log.records();
  assertEqual((await reader.next()).value.lsn, 1, 'first record');
  const done = await log.truncateBefore(log.nextLsn);
  assert(done.held === done.segments && done.segments >= 3, `truncateBefore: ${show(done)}`);
  const names = fs.readdirSync(directory);
  assertEqual(names.filter((name) => name.endsWith('.wal')).length, 1, 'segments left under their names');
  assertEqual(names.filter((name) => name.endsWith('.wal.retired')).length, done.held, 'segments set aside');
  let read = 1;
  while (!(await reader.next()).done) read++;
  assertEqual(read, 30, 'records the reader set out to read');
  await log.append('the next one');
  assertEqual((await followed).value.data.toString(), 'the next one', 'the follower got it');
  await follower.return(undefined);
  await log.truncateBefore(log.firstLsn);
  assertEqual(log.stats().retiredSegments, 0, 'released and removed');
  assertEqual(fs.readdirSync(directory).filter((name) => name.endsWith('.retired')).length, 0, 'no set-aside file left');
  const first = log.firstLsn;
  await log.close();
  const reopened = await hs.DurableLog.open(directory, { segmentSize: 1024 });
  assertEqual(reopened.firstLsn, first, 'reopened firstLsn');
  await reopened.close();
});

check('mapFile / msync / unmapFile: stores reach the file, msync makes ranges durable, unmap detaches and releases', ['mapFile', 'mapFileSync', 'msync', 'msyncSync', 'unmapFile'], async () => {
  assert(supported('mapFile') && supported('msync'), `mapFile/msync unsupported: ${show(caps.calls.mapFile)} ${show(caps.calls.msync)}`);
  assertEqual(caps.calls.msync.durable, true, 'msync durable');
  const file = fresh('mapped');
  const bytes = Buffer.alloc(200000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
  fs.writeFileSync(file, bytes);
  const fd = openFd(file, 'r+');
  // An offset past Windows' 64 KiB allocation granularity, not aligned to anything.
  const map = hs.mapFileSync(fd, { offset: 70001, length: 1000 });
  assertEqual(map.length, 1000, 'mapped length');
  assertEqual(map[0], 70001 % 251, 'first mapped byte');
  map.write('through the map', 10);
  hs.msyncSync(map, { offset: 10, length: 15 });
  const whole = await hs.mapFile(fd);
  assertEqual(whole.length, 200000, 'whole file mapped');
  assertEqual(whole.subarray(70011, 70026).toString(), 'through the map', 'two mappings of one file agree');
  whole.write('second', 199994);
  await hs.msync(whole.subarray(199000));
  await hs.msync(new DataView(whole.buffer, 5, 100), { offset: 1, length: 2 });
  const read = fs.readFileSync(file);
  assertEqual(read.subarray(70011, 70026).toString(), 'through the map', 'the store in the file');
  assertEqual(read.subarray(199994).toString(), 'second', 'the last bytes of the file');
  hs.unmapFile(map);
  hs.unmapFile(whole.subarray(1, 2));
  assertEqual(map.length, 0, 'unmapped view length');
  assertEqual(whole.length, 0, 'every view detached');
  assert(caught(() => whole.readUInt8(0)) instanceof RangeError, 'access after unmap throws');
  assertArgError(caught(() => hs.msyncSync(map)), 'ERR_INVALID_ARG_TYPE', 'msync after unmap');
  assertArgError(caught(() => hs.unmapFile(map)), 'ERR_INVALID_ARG_TYPE', 'unmap twice');
  assertArgError(caught(() => hs.msyncSync(Buffer.alloc(8))), 'ERR_INVALID_ARG_TYPE', 'msync of a plain Buffer');
  // Released at once: Windows refuses to shrink or delete a file with a view mapped.
  fs.ftruncateSync(fd, 100);
  closeFd(fd);
  fs.unlinkSync(file);
});

check('mapFile: past the end, a read-only fd, a bad fd, MAP_SYNC where unsupported', ['mapFile', 'mapFileSync'], async () => {
  const file = fileWith('x'.repeat(5000), 'mapped');
  const fd = openFd(file, 'r+');
  const past = caught(() => hs.mapFileSync(fd, { offset: 4000, length: 1001 }));
  assertArgError(past, 'ERR_OUT_OF_RANGE', 'mapFileSync past the end');
  assert(/must be <= 1000/.test(past.message), `past the end: ${past.message}`);
  assertArgError(await rejected(() => hs.mapFile(fd, { offset: 5000 })), 'ERR_OUT_OF_RANGE', 'mapFile at the end');
  assertArgError(caught(() => hs.mapFileSync(fd, { length: 0 })), 'ERR_OUT_OF_RANGE', 'mapFileSync length 0');
  assertSystemError(caught(() => hs.mapFileSync(BAD_FD)), { code: 'EBADF' }, 'mapFileSync(bad fd)');
  assertSystemError(await rejected(() => hs.mapFile(BAD_FD)), { code: 'EBADF' }, 'mapFile(bad fd)');
  const readOnly = openFd(file, 'r');
  assertSystemError(caught(() => hs.mapFileSync(readOnly)), { syscall: ['mmap', 'CreateFileMappingW'] }, 'mapFileSync(read-only fd)');
  const probed = hs.capabilitiesSync(workdir).calls.mapSync;
  const withSync = caught(() => hs.unmapFile(hs.mapFileSync(fd, { sync: true })));
  if (probed.supported) assertEqual(withSync, null, 'MAP_SYNC where capabilities(dir) says supported');
  else assertUnsupported(withSync, 'mapFileSync({ sync: true })', 'MAP_SYNC');
  if (!supported('mapSync')) assert(!probed.supported, 'mapSync supported on a path but not on the OS');
  closeFd(readOnly);
  closeFd(fd);
});

check('crc32c / crc32cUpdate: the CRC-32C check value', ['crc32c', 'crc32cUpdate'], () => {
  const text = Buffer.from('123456789');
  assertEqual(hs.crc32c(text) >>> 0, 0xe3069283, 'crc32c("123456789")');
  assertEqual(hs.crc32cUpdate(hs.crc32c(text.subarray(0, 4)), text.subarray(4)) >>> 0, 0xe3069283, 'incremental');
});

check('crc32c: the addon (CPU instruction or table) agrees with a bit-by-bit CRC on lengths up to 40 KiB', ['crc32c', 'crc32cUpdate'], () => {
  // One bit at a time: slow, and too simple to share a mistake with the addon's code.
  const bitwise = (bytes) => {
    let c = 0xffffffff;
    for (const byte of bytes) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    return ~c >>> 0;
  };
  const data = Buffer.alloc(40 * 1024 + 16);
  let x = 12345;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  // Around the sizes where the instruction's three-lane loop starts (3 x 4 KiB), unaligned.
  for (const length of [0, 1, 7, 8, 9, 63, 255, 256, 4095, 12287, 12288, 12289, 24583, 40 * 1024]) {
    for (const offset of [0, 3]) {
      const view = data.subarray(offset, offset + length);
      assertEqual(hs.crc32c(view), bitwise(view), `length ${length}, offset ${offset}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------

async function main() {
  const covered = new Set(checks.flatMap((entry) => entry.exports));
  const exported = Object.keys(hs).filter((name) => name !== 'default' && name !== '__esModule');
  for (const name of exported) {
    if (!covered.has(name)) record('not ok', `export ${name}`, 'has no smoke check (add one to test/portable/smoke.js)');
  }
  for (const entry of checks) {
    const missing = entry.exports.filter((name) => !(name in hs));
    if (missing.length > 0) {
      record('skip', entry.name, `not exported by this build: ${missing.join(', ')}`);
      continue;
    }
    try {
      const outcome = await entry.body();
      if (typeof outcome === 'string' && outcome.startsWith('skip: ')) record('skip', entry.name, outcome.slice(6));
      else record('ok', entry.name);
    } catch (error) {
      const detail = error instanceof CheckFailure ? error.message : `unexpected ${error && error.stack}`;
      record('not ok', entry.name, detail.replace(/\n/g, ' | '));
    }
  }
}

main()
  .catch((error) => record('not ok', 'smoke harness', String(error && error.stack).replace(/\n/g, ' | ')))
  .finally(() => {
    for (const fd of fdsToClose) caught(() => fs.closeSync(fd));
    caught(() => fs.rmSync(workdir, { recursive: true, force: true }));
    const totals = writeResults();
    process.exitCode = counts.failed > 0 ? 1 : 0;
    // Under Wine, writing to a pipe fails: only print when told stdout is usable.
    if (!options['quiet']) caught(() => process.stdout.write(`${totals}\n`));
  });
