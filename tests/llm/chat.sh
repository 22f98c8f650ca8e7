#!/bin/sh
# llm chat driven through a pipe, on small random models that carry a tiny
# tokenizer (tok_tiny.py) and a chat template of each built-in form:
# - the text fed at each turn is the form's (checked as the ids of the
#   expected text under the same tokenizer), the system prompt first, the
#   previous reply closed at the next turn;
# - the KV cache is kept: the second reply equals what generate continues
#   from every id of the conversation fed at once;
# - 2 ranks say the same as 1; an unknown template is refused, not guessed.
set -u
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
py=${PYTHON3:-/usr/bin/python3}
here=$top_srcdir/tests/llm
"$py" -c "import numpy" 2> /dev/null || { echo "no numpy: skipping"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
model() { # FORM: a model with the tiny tokenizer and FORM's template
    "$py" "$here/tok_tiny.py" "$tmp/$1" --template "$1" &&
    "$py" "$here/tok_gguf.py" "$tmp/$1.vocab" "$tmp/$1/tokenizer.json" "$tmp/$1/tokenizer_config.json" --pre qwen2 &&
    "$py" "$here/gguf_write.py" "$tmp/$1.gguf" --arch qwen3 --vocab-gguf "$tmp/$1.vocab" --ctx 512
}
ids() { "$bin" tokenize -m "$tmp/$1.gguf" --no-bos "$2"; }
# fed FILE TURN: the ids fed at TURN; replied FILE TURN: the ids of the reply.
fed() { sed -n "s/^# turn $2: fed [0-9]* at position [0-9]*: //p" "$1"; }
at() { sed -n "s/^# turn $2: fed [0-9]* at position \([0-9]*\):.*/\1/p" "$1"; }
replied() { sed -n "s/^# turn $2: replied: *//p" "$1"; }
nl='
'
for form in qwen3 chatml llama3 deepseek-v3; do
    model $form || exit 1
    printf 'hello there\n\nand the world\n' > "$tmp/in"
    "$launch" 1 "$bin" chat -m "$tmp/$form.gguf" -n 12 --system "be brief" --show-tokens -q < "$tmp/in" > "$tmp/out1" 2> "$tmp/err1"
    rc=$?
    [ $rc = 77 ] && exit 77
    [ $rc = 0 ] || { echo "FAIL: $form: chat exits $rc: $(cat "$tmp/err1")"; fail=1; continue; }
    case $form in
    qwen3|chatml)
        t1="<|im_start|>system${nl}be brief<|im_end|>${nl}<|im_start|>user${nl}hello there<|im_end|>${nl}<|im_start|>assistant${nl}"
        t2="<|im_end|>${nl}<|im_start|>user${nl}and the world<|im_end|>${nl}<|im_start|>assistant${nl}" ;;
    llama3)
        t1="<|begin_of_text|><|start_header_id|>system<|end_header_id|>${nl}${nl}be brief<|eot_id|><|start_header_id|>user<|end_header_id|>${nl}${nl}hello there<|eot_id|><|start_header_id|>assistant<|end_header_id|>${nl}${nl}"
        t2="<|eot_id|><|start_header_id|>user<|end_header_id|>${nl}${nl}and the world<|eot_id|><|start_header_id|>assistant<|end_header_id|>${nl}${nl}" ;;
    deepseek-v3)
        t1="<｜begin▁of▁sentence｜>be brief<｜User｜>hello there<｜Assistant｜>"
        t2="<｜end▁of▁sentence｜><｜User｜>and the world<｜Assistant｜>" ;;
    esac
    f1=$(fed "$tmp/err1" 1) f2=$(fed "$tmp/err1" 2) r1=$(replied "$tmp/err1" 1) r2=$(replied "$tmp/err1" 2)
    echo "$form: turn 1 fed $f1 | replied $r1"
    echo "$form: turn 2 at $(at "$tmp/err1" 2) fed $f2 | replied $r2"
    [ "$f1" = "$(ids $form "$t1")" ] || { echo "FAIL: $form: turn 1 is not the form's text"; fail=1; }
    [ "$f2" = "$(ids $form "$t2")" ] || { echo "FAIL: $form: turn 2 is not the form's text"; fail=1; }
    n1=$(echo $f1 $r1 | wc -w)
    [ "$(at "$tmp/err1" 2)" = "$n1" ] || { echo "FAIL: $form: turn 2 does not continue at position $n1"; fail=1; }
    [ -z "$(fed "$tmp/err1" 3)" ] || { echo "FAIL: $form: the empty line made a turn"; fail=1; }
    # The cache kept: generate from the whole conversation at once.
    all=$(echo $f1 $r1 $f2 | tr ' ' ,)
    g=$("$launch" 1 "$bin" generate -m "$tmp/$form.gguf" --prompt-ids "$all" -n 12 --print-ids -q)
    echo "$form: generate from all $(echo $f1 $r1 $f2 | wc -w) ids: $g"
    [ "$g" = "$r2" ] || { echo "FAIL: $form: the second reply is not the continuation of the whole conversation"; fail=1; }
    "$launch" 2 "$bin" chat -m "$tmp/$form.gguf" -n 12 --system "be brief" --show-tokens -q < "$tmp/in" > "$tmp/out2" 2> "$tmp/err2"
    cmp -s "$tmp/out1" "$tmp/out2" && [ "$(grep '^# turn' "$tmp/err1")" = "$(grep '^# turn' "$tmp/err2")" ] ||
        { echo "FAIL: $form: 2 ranks differ from 1"; fail=1; }
done
# generate stops at EOS: a vocabulary whose EOS is a plain byte token the
# model generates early (none of the tiny tokenizer's specials, ids >= 268,
# before it); text output is the decoded ids, whole characters.
g=$("$launch" 1 "$bin" generate -m "$tmp/qwen3.gguf" --prompt-ids 1,2,3 -n 16 --print-ids --ignore-eos -q)
x=$(echo $g | awk '{ for (i = 1; i <= NF && $i < 268; i++) { if (i > 1 && $i < 256 && !($i in seen)) { print $i; exit } seen[$i] = 1 } }')
[ -n "$x" ] || { echo "FAIL: no token to make EOS in $g"; fail=1; }
if [ -n "$x" ]; then
    "$py" "$here/tok_gguf.py" "$tmp/eos.vocab" "$tmp/qwen3/tokenizer.json" "$tmp/qwen3/tokenizer_config.json" --pre qwen2 --eos "$x" &&
    "$py" "$here/gguf_write.py" "$tmp/eos.gguf" --arch qwen3 --vocab-gguf "$tmp/eos.vocab" --ctx 512 || exit 1
    want=$(echo $g | awk -v x="$x" '{ for (i = 1; i <= NF && $i != x; i++) printf "%s%s", (i > 1 ? " " : ""), $i; print "" }')
    got=$("$launch" 2 "$bin" generate -m "$tmp/eos.gguf" --prompt-ids 1,2,3 -n 16 --print-ids -q)
    echo "generate with EOS $x: $got (without the stop: $g)"
    [ "$got" = "$want" ] || { echo "FAIL: generate does not stop at EOS"; fail=1; }
    "$launch" 2 "$bin" generate -m "$tmp/eos.gguf" --prompt-ids 1,2,3 -n 16 -q > "$tmp/text"
    "$bin" tokenize -m "$tmp/eos.gguf" -d "$(echo $want | tr ' ' ,)" > "$tmp/want"
    echo >> "$tmp/want"
    cmp -s "$tmp/text" "$tmp/want" || { echo "FAIL: generate's text is not its ids decoded"; fail=1; }
fi
# /exit ends the conversation before the second message.
printf 'hello\n/exit\nmore\n' | "$launch" 2 "$bin" chat -m "$tmp/qwen3.gguf" -n 4 --show-tokens -q > /dev/null 2> "$tmp/err"
[ -n "$(fed "$tmp/err" 1)" ] && [ -z "$(fed "$tmp/err" 2)" ] || { echo "FAIL: /exit"; fail=1; }
# A template that is none of the forms is refused with one line; --template overrides.
model unknown || exit 1
echo hi | "$launch" 2 "$bin" chat -m "$tmp/unknown.gguf" -n 4 > "$tmp/out" 2> "$tmp/err"
rc=$?
echo "unknown template: rc $rc: $(grep "^llm:" "$tmp/err")"
[ $rc != 0 ] && [ "$(grep -c "^llm:" "$tmp/err")" = 1 ] && grep -q "none of the built-in forms" "$tmp/err" || { echo "FAIL: unknown template"; fail=1; }
echo hi | "$launch" 2 "$bin" chat -m "$tmp/unknown.gguf" --template chatml -n 4 -q > /dev/null 2>&1 || { echo "FAIL: --template chatml"; fail=1; }
exit $fail
