// The config writer most programs have: write a temporary file, rename it over the old one,
// report success. No fsync of the file and none of the directory, so nothing of it is durable:
// after a power cut the new name (and the data) may be gone although the caller was told "saved".
//
//   hardsync crashtest --expect files -- node examples/crashtest/rename-no-fsync.mjs
import fs from 'node:fs/promises';
import path from 'node:path';
import { acknowledge, intend } from 'hardsync/crashtest';

const dir = process.env.HARDSYNC_CRASHTEST_DIR;
const target = path.join(dir, 'config.json');

for (let version = 1; version <= 20; version++) {
  const data = `${JSON.stringify({ version, saved: 'x'.repeat(200) })}\n`;
  await intend('config.json', data); // after a cut it may hold this one or the previous one
  await fs.writeFile(`${target}.tmp`, data);
  await fs.rename(`${target}.tmp`, target);
  await acknowledge('config.json', data); // "saved": the caller relies on it from here
}
