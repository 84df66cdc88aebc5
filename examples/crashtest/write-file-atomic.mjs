// npm's most used atomic-write package (write-file-atomic, at the version this project's
// package.json pins): it writes a temporary file, fsyncs it, renames it over the target. Its
// issue tracker has had an open report since 2020 that it never fsyncs the directory after the
// rename, which is what makes the new name durable. crashtest shows what that costs.
//
//   hardsync crashtest --expect files -- node examples/crashtest/write-file-atomic.mjs
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { acknowledge, intend } from 'hardsync/crashtest';

const dir = process.env.HARDSYNC_CRASHTEST_DIR;

for (let version = 1; version <= 20; version++) {
  const data = `${JSON.stringify({ version, saved: 'x'.repeat(200) })}\n`;
  await intend('config.json', data);
  await writeFileAtomic(path.join(dir, 'config.json'), data);
  await acknowledge('config.json', data);
}
