// The reference encodings for tests/llm/tokenizers.sh: @lenml/tokenizers (a
// port of transformers.js's tokenizers, an implementation independent of
// llm's) encodes each NUL-separated text of a file with the tokenizer.json
// and tokenizer_config.json given, without adding BOS/EOS; one line of ids
// per text (with TOK_REF_TIME set, the encoding time on stderr).
//   node tok_ref.mjs NODE_MODULES tokenizer.json tokenizer_config.json TEXTS
import { readFileSync } from "fs";
import { createRequire } from "module";

const [nodeModules, tjPath, tcPath, textsPath] = process.argv.slice(2);
const require = createRequire(nodeModules + "/");
const { TokenizerLoader } = require("@lenml/tokenizers");
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(tjPath, "utf8")),
  tokenizerConfig: JSON.parse(readFileSync(tcPath, "utf8")),
});
const texts = readFileSync(textsPath, "utf8").split("\0");
if (texts.length && texts[texts.length - 1] === "") texts.pop();
const t0 = process.hrtime.bigint();
const enc = texts.map((t) => tok.encode(t, { add_special_tokens: false }));
const dt = Number(process.hrtime.bigint() - t0) / 1e9;
if (process.env.TOK_REF_TIME) {
  const bytes = Buffer.byteLength(texts.join(""), "utf8");
  const n = enc.reduce((s, e) => s + e.length, 0);
  process.stderr.write(`# ${texts.length} texts, ${bytes} bytes, ${n} tokens: encoding ${dt.toFixed(6)} s\n`);
}
process.stdout.write(enc.map((e) => e.join(" ")).join("\n") + "\n");
