// How the runtime says that a container's program could not be started. runc gives Go's lookup
// error for the program, quoted as Go quotes it ('exec: "sh": executable file not found in
// $PATH', 'exec: "/app": stat /app: no such file or directory', 'exec: "/etc": permission
// denied'); crun its own ('executable file `sh` not found in $PATH: No such file or directory').
// runc's message comes as its JSON error line gives it, or inside the logfmt line (msg="...",
// quotes escaped) that conmon passes on.
const START_FAILURES = [/unable to start container process: exec: ("(?:[^"\\]|\\.)*"): (.+)$/s, /executable file (`[^`]*`) (not found in \$PATH: .+)$/s];
const LOGFMT_MESSAGE = /\bmsg=("(?:[^"\\]|\\.)*")/;
const NOT_FOUND = /not found|no such file or directory/i;

export interface StartFailure {
  /** The program as the runtime quoted it. */
  program: string;
  reason: string;
  /** Missing, rather than there but not runnable. */
  notFound: boolean;
}

/** The message of a logfmt line, unquoted; the text itself when it is none. */
function plainMessage(text: string): string {
  const quoted = LOGFMT_MESSAGE.exec(text)?.[1];
  if (quoted === undefined) return text;
  try {
    return JSON.parse(quoted) as string;
  } catch {
    // Go's quoting has escapes JSON lacks (\x..): the quotes are what matters here.
    return quoted.slice(1, -1).replace(/\\"/g, '"');
  }
}

/** The program runc could not start, from its error message; undefined for any other failure. */
export function startFailure(text: string): StartFailure | undefined {
  const message = plainMessage(text);
  const match = START_FAILURES.map((pattern) => pattern.exec(message)).find((found) => found !== null);
  if (!match) return undefined;
  const reason = match[2].trim();
  return { program: match[1], reason, notFound: NOT_FOUND.test(reason) };
}
