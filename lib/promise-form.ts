/**
 * How every Promise form of the API starts (internal).
 * @module
 */
import { rethrowWithCallerStack } from './errors';
import { validateArgumentCount } from './validate';

/**
 * A Promise form: refuses callbacks and extra arguments, runs `start` (validation, then the
 * native call; a synchronous throw becomes a rejection), and gives a failure from the native
 * completion the stack of the code awaiting it (see {@link rethrowWithCallerStack}).
 */
export function promise<T>(args: IArguments, declared: number, call: string, start: () => Promise<T>): Promise<T> {
  try {
    validateArgumentCount(args, declared, call);
    return start().then(undefined, rethrowWithCallerStack);
  } catch (error) {
    return Promise.reject(error);
  }
}
