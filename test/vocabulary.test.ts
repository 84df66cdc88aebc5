// One vocabulary: the flush kinds, open bits, capability names and constant names are defined
// once in native/platform.h and exported by the addon; lib/ and bench/ read those exports.
// This file fails when lib/types.ts's unions and the addon's tables disagree: the typed lists
// of test/helpers/vocabulary.ts must compile (a name missing from a list is a type error) and
// must equal what the addon exports.
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { BenchFlushCode } from '../dist/bench/measure/native-loop.js';
import { capabilitiesSync, constants } from '../dist/lib/index.js';
import { native } from '../dist/lib/native.js';
import { FLUSH_CODES } from '../dist/lib/validate.js';
import { CAPABILITY_NAMES, CONSTANT_NAMES, FLUSH_KIND_NAMES, FLUSH_MODES, OPEN_FLAGS } from './helpers/vocabulary';

const helper = path.join(__dirname, 'helpers', 'vocabulary.ts');
const sorted = (names: readonly string[]): string[] => [...names].sort();

/** tsc's diagnostics for test/helpers/vocabulary.ts, with its text replaced by `text` if given. */
function typeErrors(text?: string): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts'], types: ['node'], strict: true, esModuleInterop: true, noEmit: true, skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language, ...rest) =>
    text !== undefined && path.resolve(file) === helper ? ts.createSourceFile(file, text, language) : read(file, language, ...rest);
  const program = ts.createProgram([helper], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('the addon exports one vocabulary', () => {
  it('flush kinds: lib/types.ts FlushMode plus syncfs, each with its own code', () => {
    expect(Object.isFrozen(native.flushKinds)).toBe(true);
    expect(sorted(Object.keys(native.flushKinds))).toEqual(sorted(FLUSH_KIND_NAMES));
    const codes = Object.values(native.flushKinds);
    expect(new Set(codes).size).toBe(codes.length);
    // writeDurable's table is the addon's, minus syncfs
    expect(sorted(Object.keys(FLUSH_CODES))).toEqual(sorted(FLUSH_MODES));
    for (const mode of FLUSH_MODES) expect(FLUSH_CODES[mode]).toBe(native.flushKinds[mode]);
    // the benchmark's names for the same codes
    expect(sorted(Object.values(BenchFlushCode).map(String))).toEqual(sorted(codes.map(String)));
    expect(BenchFlushCode.fdatasync).toBe(native.flushKinds.data);
    expect(BenchFlushCode.full).toBe(native.flushKinds.full);
    expect(BenchFlushCode.fsync).toBe(native.flushKinds.fsync);
  });

  it('open bits: OpenOptions\' boolean options, one distinct bit each', () => {
    expect(Object.isFrozen(native.openBits)).toBe(true);
    expect(Object.keys(native.openBits)).toEqual([...OPEN_FLAGS]);
    const bits = Object.values(native.openBits);
    for (const bit of bits) expect(bit > 0 && (bit & (bit - 1)) === 0).toBe(true);
    expect(new Set(bits).size).toBe(bits.length);
  });

  it('capability names: lib/types.ts CapabilityName, the same in the table and in capabilities()', () => {
    expect(Object.isFrozen(native.capabilityNames)).toBe(true);
    expect(sorted(native.capabilityNames)).toEqual(sorted(CAPABILITY_NAMES));
    expect(native.capabilities().map((row) => row.name)).toEqual([...native.capabilityNames]);
    expect(sorted(Object.keys(capabilitiesSync().calls))).toEqual(sorted(CAPABILITY_NAMES));
  });

  it('constants: lib/types.ts Constants\' keys', () => {
    expect(sorted(Object.keys(native.constants))).toEqual(sorted(CONSTANT_NAMES));
    expect(sorted(Object.keys(constants))).toEqual(sorted(CONSTANT_NAMES));
    for (const name of CONSTANT_NAMES) expect(Number.isInteger(constants[name])).toBe(true);
  });
});

describe('the typed lists are held to lib/types.ts by the compiler', () => {
  it('test/helpers/vocabulary.ts type-checks', () => {
    expect(typeErrors()).toEqual([]);
  });

  it('a name missing from a list, or one the union lacks, is a type error', () => {
    const source = ts.sys.readFile(helper) ?? '';
    const cuts: [string, string][] = [
      ["'fsync', 'barrier'] as const", "'fsync'] as const"],
      [", 'nofollow'", ''],
      [", 'lockFile'", ''],
      [", 'F_NOCACHE'", ''],
    ];
    let text = source;
    for (const [from, to] of cuts) {
      expect(text).toContain(from);
      text = text.replace(from, to);
    }
    const missing = typeErrors(text).join('\n');
    for (const name of ['barrier', 'nofollow', 'lockFile', 'F_NOCACHE']) expect(missing).toContain(`"${name}"`);
    const extra = typeErrors(source.replace("'read', 'write',", "'read', 'write', 'bogus',")).join('\n');
    expect(extra).toContain('bogus');
  });
});
