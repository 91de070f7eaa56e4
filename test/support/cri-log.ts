// Reading a container's CRI log as its reader sees it.

/**
 * A CRI log's complete lines, as `<stream> <line>`. A runtime logs what one read gave it: a line
 * read in pieces is in several records, all but the last tagged P (partial), so they are
 * joined as `crictl logs` joins them.
 */
export function completeLines(log: string): string[] {
  const lines: string[] = [];
  let partial = '';
  for (const record of log.split('\n')) {
    // /s: a terminal line ends in CR, which `.` matches only with it.
    const [, stream, tag, content] = /^\S+ (\S+) ([PF]) (.*)$/s.exec(record) ?? [];
    if (tag === 'P') {
      partial += content;
    } else if (tag === 'F') {
      lines.push(`${stream} ${partial}${content}`);
      partial = '';
    }
  }
  return lines;
}
