/**
 * Plain-text layout shared by every command's output and --help. A leaf module: it imports
 * nothing, so the argument parser can use it without loading the addon.
 * @module
 */

/**
 * Wraps text at spaces into lines of at most `width` characters (a word longer than that
 * stays whole); later lines start with `indent`, which counts toward their width.
 */
export function wrapText(text: string, width: number, indent = ''): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const limit = lines.length === 0 ? width : width - indent.length;
    if (line.length > 0 && line.length + 1 + word.length > limit) {
      lines.push(line);
      line = word;
    } else {
      line = line.length > 0 ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}
