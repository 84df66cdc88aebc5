#!/usr/bin/env node
// Checks that a Mach-O addon made by build-darwin.sh would load on macOS: every symbol it leaves
// undefined must be one that the process loading it provides. Two sources only:
//   - libSystem (the C library, pthreads, the kernel's calls): the names macOS's
//     /usr/lib/libSystem.B.dylib and the libraries it re-exports export for this architecture,
//     read from the SDK's text stub (.tbd) that the compiler linked against;
//   - node: the Node-API (napi_*, node_api_*) and libuv (uv_*) functions the node binary
//     running this script exports (node exports the same Node-API and libuv on every OS).
// Anything else (a Linux-only call, a typo that only a Mac's dyld would find, a C++ runtime
// symbol that macOS does not carry) is reported, and the exit code is 1. The addon must also
// load no library but libSystem.
//
// A Mach-O reader and a .tbd reader small enough to read, rather than a dependency: only the
// symbol table, the load commands and the tbd's export lists are needed.
//
// Usage: darwin-symbols.js --arch x86_64|aarch64 --tbd libSystem.tbd [--node NODE] ADDON
// Prints one summary line; --json prints the whole result instead.
'use strict';
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

const MH_MAGIC_64 = 0xfeedfacf;
const CPU_TYPES = { x86_64: 0x01000007, aarch64: 0x0100000c };
const TBD_TARGETS = { x86_64: 'x86_64-macos', aarch64: 'arm64-macos' };
const LC_SYMTAB = 0x2;
// Every load command that makes dyld open a library: LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB,
// LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB.
const DYLIB_COMMANDS = new Set([0xc, 0x80000018, 0x8000001f, 0x20, 0x80000023]);
const N_STAB = 0xe0;
const N_TYPE = 0x0e;
const N_EXT = 0x01;
const N_UNDF = 0x0;
const DYNAMIC_LOOKUP_ORDINAL = 0xfe;

/** The undefined external symbols and the loaded libraries of a 64-bit Mach-O file. */
function readMachO(file, arch) {
  const buf = fs.readFileSync(file);
  if (buf.length < 32 || buf.readUInt32LE(0) !== MH_MAGIC_64) throw new Error(`${file}: not a 64-bit little-endian Mach-O file`);
  const cputype = buf.readUInt32LE(4);
  if (cputype !== CPU_TYPES[arch]) throw new Error(`${file}: CPU type 0x${cputype.toString(16)}, not ${arch}`);
  const filetype = buf.readUInt32LE(12);
  const ncmds = buf.readUInt32LE(16);
  const libraries = [];
  let symtab = null;
  let at = 32;
  for (let i = 0; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(at);
    const size = buf.readUInt32LE(at + 4);
    if (size < 8 || at + size > buf.length) throw new Error(`${file}: load command ${i} runs past the file`);
    if (cmd === LC_SYMTAB) {
      symtab = { symoff: buf.readUInt32LE(at + 8), nsyms: buf.readUInt32LE(at + 12), stroff: buf.readUInt32LE(at + 16), strsize: buf.readUInt32LE(at + 20) };
    } else if (DYLIB_COMMANDS.has(cmd)) {
      const nameAt = at + buf.readUInt32LE(at + 8);
      const end = buf.indexOf(0, nameAt);
      libraries.push(buf.toString('latin1', nameAt, end < 0 || end > at + size ? at + size : end));
    }
    at += size;
  }
  if (!symtab) throw new Error(`${file}: no symbol table (LC_SYMTAB)`);
  const undefinedSymbols = [];
  for (let i = 0; i < symtab.nsyms; i++) {
    const entry = symtab.symoff + i * 16;  // struct nlist_64
    const strx = buf.readUInt32LE(entry);
    const type = buf[entry + 4];
    const desc = buf.readUInt16LE(entry + 6);
    const value = buf.readBigUInt64LE(entry + 8);
    if ((type & N_STAB) !== 0 || (type & N_TYPE) !== N_UNDF || (type & N_EXT) === 0 || value !== 0n) continue;
    const nameAt = symtab.stroff + strx;
    const name = buf.toString('latin1', nameAt, buf.indexOf(0, nameAt));
    // The library ordinal says where the static linker bound it: 0xfe means "looked up at load
    // time in the process" (-undefined dynamic_lookup), anything else names a loaded library.
    undefinedSymbols.push({ name, dynamicLookup: ((desc >> 8) & 0xff) === DYNAMIC_LOOKUP_ORDINAL });
  }
  return { filetype, libraries, undefinedSymbols };
}

/**
 * The symbols a .tbd text stub (tapi, version 3 or 4) exports for one target: the exports and
 * re-exports of every document in it (libSystem's file holds libSystem and each library it
 * re-exports). Reads the YAML subset those files use: flow sequences, possibly over lines.
 */
function readTbd(file, target) {
  const text = fs.readFileSync(file, 'utf8');
  const symbols = new Set();
  const documents = text.split(/^--- !tapi-tbd.*$/m).filter((doc) => doc.trim() !== '');
  if (documents.length === 0) throw new Error(`${file}: no tapi-tbd document`);
  const listKeys = new Set(['symbols', 'weak-symbols', 'thread-local-symbols']);
  for (const doc of documents) {
    const lines = doc.split('\n');
    let section = '';
    let targets = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const top = /^([a-z-]+):/.exec(line);
      if (top) section = top[1];
      if (section !== 'exports' && section !== 'reexports') continue;
      const keyed = /^\s+(?:- )?([a-z-]+):\s*(.*)$/.exec(line);
      if (!keyed) continue;
      let value = keyed[2];
      if (value.startsWith('[')) {
        while (!value.includes(']') && i + 1 < lines.length) value += ' ' + lines[++i].trim();
      }
      const items = value.replace(/^\[|\]\s*$/g, '').split(',').map((item) => item.trim().replace(/^'(.*)'$/, '$1')).filter(Boolean);
      if (/^\s+- /.test(line)) targets = [];  // a new entry of the list starts
      if (keyed[1] === 'targets') targets = items;
      else if (listKeys.has(keyed[1]) && targets.includes(target)) for (const item of items) symbols.add(item);
    }
  }
  return symbols;
}

/** The Node-API and libuv functions the node binary exports (its ELF dynamic symbol table). */
function nodeExports(node) {
  const out = execFileSync('nm', ['-D', '--defined-only', node], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const names = new Set();
  for (const line of out.split('\n')) {
    const name = line.trim().split(/\s+/)[2];
    if (name && /^(napi_|node_api_|uv_)/.test(name)) names.add(name);
  }
  // A stripped or statically hidden node would make every Node-API call look missing.
  if ([...names].filter((name) => name.startsWith('napi_')).length < 100) throw new Error(`${node} exports fewer than 100 napi_* functions: not a node binary to check against`);
  return names;
}

function main() {
  const args = process.argv.slice(2);
  const option = (name) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const value = args[i + 1];
    args.splice(i, 2);
    return value;
  };
  const json = args.includes('--json');
  if (json) args.splice(args.indexOf('--json'), 1);
  const arch = option('--arch');
  const tbd = option('--tbd');
  const node = option('--node') ?? process.execPath;
  const addon = args[0];
  if (!CPU_TYPES[arch] || !tbd || !addon || args.length !== 1) {
    console.error('usage: darwin-symbols.js --arch x86_64|aarch64 --tbd libSystem.tbd [--node NODE] [--json] ADDON');
    process.exit(2);
  }
  const macho = readMachO(addon, arch);
  const system = readTbd(tbd, TBD_TARGETS[arch]);
  if (system.size < 1000) throw new Error(`${tbd}: only ${system.size} symbols for ${TBD_TARGETS[arch]}: not libSystem's stub`);
  const fromNode = nodeExports(node);
  const problems = [];
  const counts = { libSystem: 0, node: 0 };
  for (const { name, dynamicLookup } of macho.undefinedSymbols) {
    // Mach-O C names carry a leading underscore; node's ELF names do not.
    const cName = name.startsWith('_') ? name.slice(1) : name;
    if (dynamicLookup && fromNode.has(cName)) counts.node++;
    else if (!dynamicLookup && system.has(name)) counts.libSystem++;
    else if (dynamicLookup) problems.push(`${name}: left for the loading process to provide, and node does not export it${system.has(name) ? ' (libSystem has it, but the link did not bind it there)' : ''}`);
    else problems.push(`${name}: bound to a loaded library, but not in ${TBD_TARGETS[arch]}'s libSystem`);
  }
  for (const library of macho.libraries) {
    if (library !== '/usr/lib/libSystem.B.dylib') problems.push(`loads ${library}: only /usr/lib/libSystem.B.dylib is allowed (an addon must run on a Mac with nothing installed)`);
  }
  if (counts.node === 0) problems.push('references no Node-API function: not an addon, or the symbol table was misread');
  const result = { addon, arch, target: TBD_TARGETS[arch], undefined: macho.undefinedSymbols.length, ...counts, libraries: macho.libraries, problems };
  if (json) console.log(JSON.stringify(result, null, 2));
  else if (problems.length === 0) console.log(`${macho.undefinedSymbols.length} undefined symbols: ${counts.libSystem} from libSystem, ${counts.node} from node; loads ${macho.libraries.join(', ')}`);
  else console.log(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(problems.length === 0 ? 0 : 1);
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(`darwin-symbols: ${error.message}`);
    process.exit(2);
  }
}

module.exports = { readMachO, readTbd, nodeExports };
