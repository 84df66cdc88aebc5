/**
 * Memory for direct I/O.
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import { native } from './native';
import { validateAlignment, validateArgumentCount, validateUint } from './validate';

/** The largest alignment {@link allocAligned} accepts (16 MiB). */
export const MAX_ALIGNMENT = 1 << 24;

/**
 * A zero-filled Buffer of `size` bytes whose memory address is a multiple of `alignment`, as
 * O_DIRECT / F_NOCACHE / FILE_FLAG_NO_BUFFERING writes need. It is a slice of an ordinary,
 * slightly larger Buffer (no external memory, so it works where external buffers are refused,
 * as in Electron), and is garbage-collected like any Buffer.
 * @param size Length in bytes.
 * @param alignment A power of two; default: this platform's direct-I/O alignment (the page
 *   size on POSIX, 4096 on Windows). For the exact rule of a file, see {@link dioAlignment}.
 */
export function allocAligned(size: number, alignment: number = native.defaultDioAlignment): Buffer {
  validateArgumentCount(arguments, 2, 'allocAligned', false);
  validateAlignment(alignment, 'alignment', MAX_ALIGNMENT);
  validateUint(size, 'size', bufferConstants.MAX_LENGTH - alignment);
  const backing = Buffer.alloc(size + alignment - 1);
  const skip = native.alignmentOffset(backing, alignment);
  return backing.subarray(skip, skip + size);
}

/**
 * Whether a view's memory address is a multiple of `alignment`.
 * @param data Any Buffer, TypedArray or DataView.
 * @param alignment A power of two.
 */
export function isAligned(data: ArrayBufferView, alignment: number): boolean {
  validateArgumentCount(arguments, 2, 'isAligned', false);
  validateAlignment(alignment, 'alignment', MAX_ALIGNMENT);
  return native.alignmentOffset(data, alignment) === 0;
}
