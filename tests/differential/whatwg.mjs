// Node's WHATWG URL reading of request targets, for the differential test: the target is
// resolved against http://h/ (dot segments, `%2e` as a dot, `\` as `/`), its pathname then
// decoded (`//x` at the start names another host: the path left is the reading). One target
// per line (hex) on stdin; one line out each: the path (hex UTF-8) or `-` where the reader
// refuses (a malformed escape).
import { createInterface } from "node:readline";

const rl = createInterface({ input: process.stdin });
const out = [];
for await (const line of rl) {
  const target = Buffer.from(line.trim(), "hex").toString("latin1");
  let path = "-";
  try {
    // `//admin` reads as the host `admin` and the path `/`: that path is the reading.
    const u = new URL(target, "http://h/");
    path = Buffer.from(decodeURIComponent(u.pathname), "utf8").toString("hex");
  } catch {
    path = "-";
  }
  out.push(path);
}
process.stdout.write(out.join("\n") + "\n");
