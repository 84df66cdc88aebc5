// README's platform table is generated from the capability tables (scripts/platform-table.js):
// it must be the one the script makes now, the script must read a table exactly as the addon
// reports it (checked on this OS, where the compiled table can be asked), and the places the
// table says each OS is built and run must still do so.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../dist/lib/native.js';

const root = path.resolve(__dirname, '..');
const load = createRequire(__filename);
const generator = load(path.join(root, 'scripts', 'platform-table.js')) as {
  render(): string;
  replaceIn(readme: string, table: string): string;
  platformTable(file: string): { name: string; supported: boolean; syscall: string; durable?: boolean }[];
  BEGIN: string;
  END: string;
};
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

describe('README platform table', () => {
  it('is the table scripts/platform-table.js generates from native/platform/*.cc', () => {
    const readme = read('README.md');
    const start = readme.indexOf(generator.BEGIN);
    const end = readme.indexOf(generator.END);
    expect(start, 'README.md has the generated table\'s markers').toBeGreaterThanOrEqual(0);
    expect(readme.slice(start, end + generator.END.length), 'README is stale: run node scripts/platform-table.js --write').toBe(generator.render());
  });

  it('reads this OS\'s table exactly as capabilities() reports it from the compiled addon', () => {
    const file = ({ linux: 'linux.cc', darwin: 'darwin.cc', freebsd: 'freebsd.cc', win32: 'win32.cc' } as Record<string, string>)[native.platform];
    expect(file, `a platform file for ${native.platform}`).toBeDefined();
    const compiled = native.capabilities().map((row: { name: string; supported: boolean; syscall: string; durable?: boolean }) => ({ ...row }));
    expect(generator.platformTable(file)).toEqual(compiled);
  });

  it('refuses a table it cannot read rather than printing a wrong one', () => {
    // A row out of platform.h's order is what HS_PLATFORM_TABLES refuses at compile time too.
    const original = read('native/platform/freebsd.cc');
    const swapped = original.replace(/(\s*\{CapabilityId::kFsync,[^\n]*\n)(\s*\{CapabilityId::kFdatasync,[^\n]*\n)/, '$2$1');
    expect(swapped).not.toBe(original);
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'hardsync-platform-table-'));
    try {
      fs.cpSync(path.join(root, 'scripts'), path.join(copy, 'scripts'), { recursive: true });
      fs.cpSync(path.join(root, 'native'), path.join(copy, 'native'), { recursive: true });
      fs.writeFileSync(path.join(copy, 'native', 'platform', 'freebsd.cc'), swapped);
      const moved = load(path.join(copy, 'scripts', 'platform-table.js')) as typeof generator;
      expect(() => moved.platformTable('freebsd.cc')).toThrow(/in platform.h's order/);
      expect(moved.platformTable('darwin.cc')).toEqual(generator.platformTable('darwin.cc'));
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('says where each OS is built and run as CI and the release workflow still do it', () => {
    const ci = read('.ci/run');
    expect(ci).toMatch(/scripts\/cross\/build-darwin\.sh/);
    expect(ci).toMatch(/scripts\/asan\/run\.sh --ci-tests/);
    expect(read('scripts/cross/build-darwin.sh')).toMatch(/zig_version="0\.11\.0"[\s\S]*macos_version="11\.0"[\s\S]*-Werror/);
    const cross = read('test/cross-platform.test.ts');
    for (const platform of ['linux-arm64', 'win32-x64']) expect(cross).toContain(`'${platform}'`);
    const workflow = read('.github/workflows/prebuild.yml');
    for (const needle of ['macos-13', 'macos-14', 'windows-2022', 'ubuntu-22.04-arm', "release: '14.1'", 'test/portable/smoke.js']) {
      expect(workflow).toContain(needle);
    }
  });
});
