// The reference encodings for tests/llm/tokenizers.sh: @lenml/tokenizers (a
// port of transformers.js's tokenizers, an implementation independent of
// llm's) encodes each NUL-separated text of a file with the tokenizer.json
// and tokenizer_config.json given, without adding BOS/EOS; one line of ids
// per text.
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
const out = texts.map((t) => tok.encode(t, { add_special_tokens: false }).join(" "));
process.stdout.write(out.join("\n") + "\n");
