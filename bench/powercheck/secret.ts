/**
 * The shared secret of a powercheck witness and its clients, and the proofs made with it.
 *
 * Every connection proves that both ends know the secret without sending it: each side sends a
 * fresh random nonce, the client answers with HMAC-SHA256(secret, "client" + both nonces) and
 * the witness with HMAC-SHA256(secret, "witness" + both nonces) (PROTOCOL.md, "Handshake").
 * A proof is compared in constant time (crypto.timingSafeEqual) and is worthless on any other
 * connection, since the other side's nonce is new each time.
 *
 * A run also proves that it is the run that began its test: it draws a random run key, sends
 * it in its BEGIN (on an authenticated connection), and the witness keeps only its SHA-256.
 * @module
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileSecretSync } from '../../lib/index';
import { PROTOCOL } from './protocol';

/** The environment variable that holds the secret, for every powercheck command. */
export const SECRET_ENV = 'HARDSYNC_POWERCHECK_SECRET';

/** The file in the witness's state directory that keeps its secret. */
export const SECRET_FILE_NAME = 'secret';

/** A secret is this many printable, non-blank ASCII characters. */
export const MIN_SECRET_LENGTH = 16;
export const MAX_SECRET_LENGTH = 1024;

const SECRET_CHARS = /^[\x21-\x7e]+$/;
const NONCE = /^[0-9a-f]{32}$/;
const PROOF = /^[0-9a-f]{64}$/;

/** The secret cannot be used: a bad value, or a file anyone else could read or change (exit code 2). */
export class SecretError extends Error {
  readonly code = 'ERR_HARDSYNC_POWERCHECK_SECRET';
}

/** Checks a secret's text; `where` says where it came from, for the message. */
export function checkSecret(secret: string, where: string): string {
  if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH || !SECRET_CHARS.test(secret)) {
    throw new SecretError(`the secret in ${where} must be ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} printable ASCII characters without spaces (it has ${secret.length})`);
  }
  return secret;
}

/** A new secret: 256 random bits, base64url (43 characters). */
export function generateSecret(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/**
 * Refuses a file or directory that another user could read (`readable`) or change. Where the
 * process has no POSIX user id (Windows), access is governed by ACLs that the mode bits do not
 * show, and nothing is checked.
 */
function checkPrivate(stat: fs.Stats, what: string, readable: boolean): void {
  if (typeof process.getuid !== 'function') return;
  if (stat.uid !== process.getuid()) throw new SecretError(`${what} belongs to user ${stat.uid}, not to this user (${process.getuid()}): refusing to trust it`);
  const others = readable ? 0o077 : 0o022;
  if ((stat.mode & others) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(3, '0');
    throw new SecretError(`${what} has mode ${mode}: other users could ${readable ? 'read or change' : 'change'} it; chmod ${readable ? '600' : '700'} it`);
  }
}

/**
 * Reads a secret from `file`: one line (surrounding blanks and the final newline ignored). The
 * file must belong to this user and be readable by no one else (mode 600), or it is refused.
 */
export function readSecretFile(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    throw new SecretError(`cannot read the secret file ${file}: ${(error as Error).message}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new SecretError(`the secret file ${file} is not a regular file`);
    if (stat.size > MAX_SECRET_LENGTH + 64) throw new SecretError(`the secret file ${file} is too large to be a secret (${stat.size} bytes)`);
    checkPrivate(stat, `the secret file ${file}`, true);
    return checkSecret(fs.readFileSync(fd, 'latin1').trim(), file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Where a command's secret comes from: `--secret-file`, else the environment, else nothing. */
export function clientSecret(secretFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (secretFile !== undefined) return readSecretFile(secretFile);
  const value = env[SECRET_ENV];
  if (value !== undefined && value.length > 0) return checkSecret(value.trim(), `$${SECRET_ENV}`);
  return undefined;
}

/** A witness's secret and where it lives. */
export interface WitnessSecret {
  secret: string;
  /** The file it was read from or written to; null when it was given (the environment). */
  file: string | null;
  /** Made now, at the witness's first start: the one time it is printed. */
  created: boolean;
}

/**
 * Refuses a witness state directory that other users could change: they could rewrite what the
 * witness remembers, or its secret.
 */
export function checkStateDir(stateDir: string): void {
  checkPrivate(fs.statSync(stateDir), `the state directory ${stateDir}`, false);
}

/**
 * The secret of the witness whose state is `stateDir` (an existing directory, checked by
 * {@link checkStateDir}): `stateDir/secret` if it exists, else a new one written there (mode
 * 600, durably, with writeFileSecret).
 */
export function stateSecret(stateDir: string): WitnessSecret {
  const file = path.join(stateDir, SECRET_FILE_NAME);
  let exists = true;
  try {
    fs.lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    exists = false;
  }
  if (exists) return { secret: readSecretFile(file), file, created: false };
  const secret = generateSecret();
  writeFileSecretSync(file, `${secret}\n`);
  return { secret, file, created: true };
}

/** A fresh nonce: 128 random bits, 32 lowercase hex digits. */
export function makeNonce(): string {
  return crypto.randomBytes(16).toString('hex');
}

/** Is `token` a nonce as {@link makeNonce} makes them? */
export function isNonce(token: string | undefined): token is string {
  return token !== undefined && NONCE.test(token);
}

/** Is `token` a proof (64 lowercase hex digits)? */
export function isProof(token: string | undefined): token is string {
  return token !== undefined && PROOF.test(token);
}

/** The proof that `role` knows the secret, for the connection with these two nonces. */
export function makeProof(secret: string, role: 'client' | 'witness', clientNonce: string, witnessNonce: string): string {
  return crypto.createHmac('sha256', Buffer.from(secret, 'latin1')).update(`${PROTOCOL} ${role} ${clientNonce} ${witnessNonce}`).digest('hex');
}

/** Whether `given` is the proof `role` should have made (compared in constant time). */
export function proofMatches(secret: string, role: 'client' | 'witness', clientNonce: string, witnessNonce: string, given: string): boolean {
  if (!isProof(given)) return false;
  const expected = Buffer.from(makeProof(secret, role, clientNonce, witnessNonce), 'hex');
  return crypto.timingSafeEqual(expected, Buffer.from(given, 'hex'));
}

/** A new run key: 128 random bits, 32 lowercase hex digits. */
export function makeRunKey(): string {
  return crypto.randomBytes(16).toString('hex');
}

/** What the witness keeps of a run key: its SHA-256, hex. */
export function ownerHash(runKey: string): string {
  return crypto.createHash('sha256').update(runKey, 'latin1').digest('hex');
}

/** Whether `runKey` is the one whose hash is `stored` (constant time; an empty `stored` matches nothing). */
export function ownerMatches(stored: string, runKey: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(stored)) return false;
  return crypto.timingSafeEqual(Buffer.from(stored, 'hex'), Buffer.from(ownerHash(runKey), 'hex'));
}
