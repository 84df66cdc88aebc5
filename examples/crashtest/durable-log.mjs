// A queue on hardsync's DurableLog: four producers append records concurrently; each append
// resolves once its batch is durable, and only then is it acknowledged (by its LSN). After any
// power cut, recovery must give back every acknowledged record, intact, at its LSN.
//
//   hardsync crashtest --expect durable-log -- node examples/crashtest/durable-log.mjs
//   hardsync crashtest --expect durable-log -- node examples/crashtest/durable-log.mjs --dsync
//       (segments opened O_DSYNC: a write cut in the middle leaves its first sectors durable,
//       a torn batch that recovery must discard)
// Negative controls, which crashtest must catch:
//   hardsync crashtest --expect durable-log -- node examples/crashtest/durable-log.mjs --no-flush
//       (the same program with flush: 'none': acknowledged before anything is durable)
//   hardsync crashtest --expect durable-log --lie -- node examples/crashtest/durable-log.mjs
//       (the disk ignores every flush)
import { DurableLog } from 'hardsync';
import { acknowledge } from 'hardsync/crashtest';

const dir = process.env.HARDSYNC_CRASHTEST_DIR;
const flush = process.argv.includes('--no-flush') ? 'none' : process.argv.includes('--dsync') ? 'dsync' : 'data';

const log = await DurableLog.open(dir, { segmentSize: 64 * 1024, flush });
async function producer(name, count) {
  for (let i = 0; i < count; i++) {
    const data = `${name} record ${i} ${'.'.repeat(100 + ((i * 37) % 400))}`;
    const { lsn } = await log.append(data);
    await acknowledge(String(lsn), data);
  }
}
await Promise.all(['a', 'b', 'c', 'd'].map((name) => producer(name, 100)));
await log.close();
