#!/usr/bin/env node
// Prints the C++ sources binding.gyp compiles for one OS (gyp's OS names: linux, mac, win,
// freebsd), one per line, so the cross builds compile exactly what node-gyp would and pick
// up new files without being edited. With --defines instead of an OS: the target's defines;
// with --cflags: its cflags_cc (the warnings). Understands the subset of gyp that binding.gyp uses:
// one target, "sources", and "conditions" of the form ["OS=='x'", {...}].
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const os = process.argv[2];
if (!os) {
  console.error('usage: gyp-sources.js OS | --defines | --cflags');
  process.exit(2);
}
const root = path.join(__dirname, '..', '..');
const text = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8');
// gyp files are Python literals; binding.gyp keeps to the JSON subset (no comments, double
// quotes), which is all this accepts: anything else fails loudly here rather than building
// a different source list than node-gyp.
const gyp = JSON.parse(text);
const target = gyp.targets.find((t) => t.target_name === 'hardsync');
if (!target) throw new Error('binding.gyp has no target "hardsync"');

if (os === '--defines' || os === '--cflags') {
  const list = os === '--defines' ? target.defines : target.cflags_cc;
  process.stdout.write((list || []).join('\n') + '\n');
  process.exit(0);
}

const sources = [...(target.sources || [])];
for (const [condition, settings] of target.conditions || []) {
  const match = /^OS=='(\w+)'$/.exec(condition);
  if (!match) throw new Error(`unsupported gyp condition: ${condition}`);
  if (match[1] === os) sources.push(...(settings.sources || []));
}
process.stdout.write(sources.join('\n') + '\n');
