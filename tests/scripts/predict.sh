#!/bin/sh
# scripts/predict: its predictions for a toy shape equal the ones computed here by hand
# (weights counted from the shape's dimensions, times from the given rates), node figures
# are read from results files (an allreduce table fitted as alpha + beta * size), the
# published machine's comparison covers every published tokens/s row, and bad input
# (unknown shape, negative bandwidth, missing file) gives one line and a non-zero exit.
. "$(dirname "$0")/lib.sh"
P=$top_srcdir/scripts/predict
SHAPE=dense:dim=64,ffn=128,layers=2,heads=4,kv=2,head_dim=32,vocab=256

"$PYTHON3" -c 'import numpy' 2>/dev/null || skip "numpy missing"
"$P" --shape $SHAPE --quant f16 --mem-bw-GBps 1 --ar-alpha-us 10 --ar-beta-us-per-KiB 1 \
     --p2p-lat-us 5 --p2p-bw-GBps 1 --sgemm-gflops 1 --dgemm-gflops 10 --hpl --hpl-n 1000 --hpl-nb 100 \
     --nodes 1,2,4 --format json > "$tmp/toy.json" 2> "$tmp/err" || { cat "$tmp/err" >&2; fail "toy prediction failed"; }

# By hand: q = 4 x 32 = 128 wide, k and v 2 x 32 = 64; a layer reads 64x128 (q) + 2 x 64x64
# (k, v) + 128x64 (o) + 3 x 64x128 (FFN) = 8192 x 3 + 24576 = 49152 weights; two layers,
# the embedding row (64) and the output matrix (256 x 64): 114752 f16 weights = 229504 bytes,
# plus 64 + 2 x 2 x 64 = 320 f32 norm weights = 1280 bytes: 230784 bytes a token.
# At 1 GB/s: 230.784 us. Tensor parallel on N nodes (llm's): the matrices' 229504 bytes / N
# and the norms' 1280 bytes whole on every node, plus 1 + 2 x 2 = 5 allreduces of 64 floats
# (256 B = 0.25 KiB) at 10 + 1 x 0.25 us and the argmax's 8-byte one at 10 + 8/1024 us.
# Layer split: 230.784 us plus N - 1 hops of 5 us + 256 B at 1 GB/s (0.256 us) and the
# argmax allreduce.
# Prompt: 2 x 114752 flops a token at 1 Gflops x N. HPL, N = 1000 on 4 nodes (2x2), 10
# Gflops each: 2/3 1000^3 + 2 x 1000^2 flops; broadcast 8 x 1000^2 / (2 x 2) bytes and
# swaps 8 x 1000^2 / 2 bytes at 1 GB/s; latencies (1000 x log2 2 + 1000/100 x (2-1)) x 5 us.
"$PYTHON3" - "$tmp/toy.json" <<'PY' || fail "the toy predictions differ from the hand-computed ones"
import json, sys
d = json.load(open(sys.argv[1]))
mem_us = 230784 / 1e9 * 1e6
want = {}
small = 10 + 8 / 1024
for n in (1, 2, 4):
    ar = 0 if n == 1 else 5 * (10 + 0.25) + small
    want[("tensor", n)] = 1e6 / (229504 / 1e3 / n + 1.28 + ar)
    want[("layers", n)] = 1e6 / (mem_us + ((n - 1) * (5 + 0.256) + small if n > 1 else 0))
bad = 0
for r in d["decode"]:
    w = want.pop((r["strategy"], r["nodes"]))
    if abs(r["tg_tps"] / w - 1) > 1e-9 or abs(r["bytes_per_tok_GB"] - 230784e-9) > 1e-15:
        print(f"decode {r['strategy']} x{r['nodes']}: {r['tg_tps']} t/s, {r['bytes_per_tok_GB']} GB, want {w}")
        bad = 1
if want:
    print("missing decode rows", want); bad = 1
for r in d["prompt"]:
    w = 1e9 * r["nodes"] / (2 * 114752)
    if abs(r["pp_tps"] / w - 1) > 1e-9:
        print(f"prompt x{r['nodes']}: {r['pp_tps']}, want {w}"); bad = 1
h = [r for r in d["hpl"] if r["nodes"] == 4][0]
flops = 2 / 3 * 1e9 + 2e6
t = flops / 40e9 + 8e6 / 4 / 1e9 + 8e6 / 2 / 1e9 + (1000 + 10) * 5e-6
if abs(h["gflops"] / (flops / t / 1e9) - 1) > 1e-9 or (h["p"], h["q"]) != (2, 2):
    print(f"hpl x4: {h}, want {flops / t / 1e9}"); bad = 1
one = [r for r in d["hpl"] if r["nodes"] == 1][0]
if abs(one["gflops"] - 10) > 1e-9:
    print(f"hpl x1: {one['gflops']}, want 10"); bad = 1
sys.exit(bad)
PY
note "toy shape: decode, prompt and HPL as computed by hand"

# A mixture of experts, experts quantized apart from the rest: per layer the attention
# above (24576 f16 weights), 2 of 6 experts of 3 x 64x64 = 24576 Q4_0 weights (18 bytes per
# 32), the F32 router (64 x 6) and two norms (2 x 64); two layers, embedding row and output
# as above: 65600 f16 weights = 131200 B, 49152 x 18/32 = 27648 B, (64 + 2 x 512) x 4 = 4352 B:
# 163200 bytes a token, 163.2 us at 1 GB/s.
"$P" --shape moe:dim=64,layers=2,heads=4,kv=2,head_dim=32,vocab=256,experts=6,used=2,expert_ffn=64 \
     --quant q4_0/f16 --mem-bw-GBps 1 --nodes 1 --strategy tensor --format json > "$tmp/moe.json" ||
    fail "MoE prediction failed"
"$PYTHON3" -c 'import json, sys
r = json.load(open(sys.argv[1]))["decode"][0]
sys.exit(abs(r["bytes_per_tok_GB"] - 163200e-9) > 1e-15 or abs(r["tg_tps"] / (1e6 / 163.2) - 1) > 1e-9)' "$tmp/moe.json" ||
    { cat "$tmp/moe.json"; fail "the MoE toy differs from the hand-computed bytes"; }
note "MoE toy with experts at Q4_0, the rest F16: 163200 bytes a token"

# The same MoE on 2 nodes, tensor parallel: 3 whole experts a node, 2 chosen of 6. The
# slowest node holds both chosen with probability 2 x C(3,2) / C(6,2) = 6/15, else one:
# 1.4 experts a layer on average at 3 x 64x64 x 18/32 = 6912 bytes each; the rest, the
# attention and output (131200 B f16) halved, the norms and routers (4352 B) whole:
# 65600 + 4352 + 2 x 1.4 x 6912 = 89305.6 bytes, 89.3056 us at 1 GB/s; plus 5 allreduces
# of 64 floats at 10 us and the argmax's at 10 us. As an emulated cluster of 2 nodes on
# one machine of 1 core (--machine-cores 1): the longer of all 163200 bytes at the
# machine's rate and the slowest node's at all of it: 163.2 us.
M=moe:dim=64,layers=2,heads=4,kv=2,head_dim=32,vocab=256,experts=6,used=2,expert_ffn=64
"$P" --shape $M --quant q4_0/f16 --mem-bw-GBps 1 --ar-alpha-us 10 --nodes 2 --strategy tensor --format json > "$tmp/moe2.json" &&
"$P" --shape $M --quant q4_0/f16 --mem-bw-GBps 1 --ar-alpha-us 10 --nodes 2 --strategy tensor --machine-cores 1 --format json > "$tmp/moe2m.json" ||
    fail "MoE 2-node prediction failed"
"$PYTHON3" -c 'import json, sys
r = json.load(open(sys.argv[1]))["decode"][0]
m = json.load(open(sys.argv[2]))["decode"][0]
ok = abs(r["mem_ms"] * 1e3 - 89.3056) < 1e-6 and abs(r["comm_ms"] * 1e3 - 60) < 1e-9 and abs(m["mem_ms"] * 1e3 - 163.2) < 1e-6
sys.exit(not ok)' "$tmp/moe2.json" "$tmp/moe2m.json" || { cat "$tmp/moe2.json" "$tmp/moe2m.json"; fail "the 2-node MoE toy differs from the hand computation"; }
note "MoE toy on 2 nodes: the slowest node's expected 1.4 experts a layer; emulated on one core: all bytes at the machine's rate"

# The text table shows the terms.
"$P" --shape $SHAPE --quant f16 --mem-bw-GBps 1 --ar-alpha-us 10 --nodes 2 --strategy tensor > "$tmp/toy.txt" ||
    fail "table output failed"
grep -q 'mem_ms.*comm_ms.*tg_t/s' "$tmp/toy.txt" || fail "the table does not show its terms"
# An unknown figure leaves the prediction unknown, never a number.
"$P" --shape $SHAPE --mem-bw-GBps 1 --nodes 2 --strategy tensor > "$tmp/unk.txt" || fail "unknown link failed"
grep -q 'tensor .* 2 .*unknown *unknown *unknown$' "$tmp/unk.txt" || { cat "$tmp/unk.txt"; fail "an unknown allreduce latency gave a figure"; }

# Bytes per weight by hand: MLX 4-bit in groups of 32 with a 16-bit scale and bias is 5 bits;
# Q4_K_M's FFN (gate, up Q4_K; down half Q6_K, half Q4_K) is (2 x 4.5 + (4.5 + 6.5625) / 2) / 3 bits.
# A 2-node allreduce takes ar_alpha_2n_us, 4 nodes ar_alpha_us: tiny (2 layers), exo: 4 allreduces.
"$P" --shape $SHAPE --quant mlx4g32 --mem-bw-GBps 1 --ar-alpha-us 100 --ar-alpha-2n-us 10 --nodes 2,4 \
    --strategy tensor --impl exo --format json > "$tmp/q.json" || fail "mlx4g32 / ar-alpha-2n failed"
"$P" --shape $SHAPE --quant q4_k_m --mem-bw-GBps 1 --nodes 1 --strategy layers --format json > "$tmp/qkm.json" ||
    fail "q4_k_m failed"
"$PYTHON3" - "$tmp/q.json" "$tmp/qkm.json" <<'PY' || fail "the new quantizations or the 2-node allreduce latency"
import json, sys
d = json.load(open(sys.argv[1]))["decode"]
two, four = [r for r in d if r["nodes"] == 2][0], [r for r in d if r["nodes"] == 4][0]
assert two["n_comm_per_tok"] == four["n_comm_per_tok"] == 4, d
assert abs(two["comm_ms"] - 4 * 10e-3) < 1e-12 and abs(four["comm_ms"] - 4 * 100e-3) < 1e-12, d
# The toy's 114752 matrix weights (above) and 1280 bytes of f32 norms.
assert abs(two["bytes_per_tok_GB"] * 1e9 - (114752 * 5 / 8 + 1280)) < 1e-6, two
k = json.load(open(sys.argv[2]))["decode"][0]
assert abs(k["bytes_per_tok_GB"] * 1e9 - (114752 * (2 * 4.5 + (4.5 + 6.5625) / 2) / 3 / 8 + 1280)) < 1e-6, k
PY
# The published machine: one comparison row per published tokens/s row, each with its error.
"$P" --node m3-ultra --format json > "$tmp/m3.json" || fail "--node m3-ultra failed"
rows=$(grep -c '^llm_tg,M3 Ultra,[0-9],.*tg_tps,[0-9]' "$top_srcdir/results/published.csv")
"$PYTHON3" - "$tmp/m3.json" "$rows" <<'PY' || fail "the m3-ultra comparison is incomplete"
import json, sys
d = json.load(open(sys.argv[1]))
pub = d["published"]
assert len(pub) == int(sys.argv[2]) > 0, (len(pub), sys.argv[2])
for r in pub:
    assert r["tg_tps"] > 0 and abs(r["error_pct"] - (r["tg_tps"] / r["published_tps"] - 1) * 100) < 1e-9, r
assert any("ASSUMPTION" in a for a in d["assumptions"]), d["assumptions"]
for r in pub:
    # A miss beyond 25% carries its explanation; a row within it none. The memory bound is
    # 1 / mem_ms, and a row published above it is said to be so.
    assert (r["why_miss"] is not None) == (abs(r["error_pct"]) > 25), r
    assert abs(r["mem_bound_tps"] - 1e3 / r["mem_ms"]) < 1e-9, r
    if r["why_miss"] and r["published_tps"] > r["mem_bound_tps"]:
        assert "above the memory term alone" in r["why_miss"][0], r
    # The checkpoint's size at the bytes per weight taken, where it is published.
    c = r["checkpoint"]
    if c["published_GB"]:
        assert abs(c["model_GB"] / c["published_GB"] - 1) < 0.01, (r["shape"], r["quant"], c)
PY
"$P" --node m3-ultra | grep -q 'within 25%' || fail "no count of the rows within 25%"
"$P" --node m3-ultra | grep -q 'Exo (RDMA; tensor parallel) *4 ' || fail "no Exo 4-node row in the table"

# Node figures from results files.
if "$PYTHON3" -c 'import h5py' 2>/dev/null; then
    "$PYTHON3" - "$tmp" <<'PY' || fail "writing the results files"
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(f"{d}/llm.h5", "w") as f:
    f.attrs.update(dict(schema="clusterbench/1", program="llm", status="complete", n_nodes=2,
                        llm_read_GBps=8.0, llm_sgemm_Gflops=100.0))
with h5py.File(f"{d}/mb.h5", "w") as f:
    f.attrs.update(dict(schema="clusterbench/1", program="microbench", status="complete", n_nodes=2))
    s = np.array([8, 1024, 4096, 65536])
    t = np.zeros(4, dtype=[("size_B", "<i8"), ("lat_p50_us", "<f8")])
    t["size_B"] = s; t["lat_p50_us"] = 10 + 0.5 * s / 1024
    f["microbench/allreduce"] = t
PY
    "$P" --results "$tmp/llm.h5" "$tmp/mb.h5" --shape $SHAPE --quant f16 --nodes 2 --strategy tensor \
         --format json > "$tmp/res.json" || fail "--results failed"
    "$PYTHON3" - "$tmp/res.json" <<'PY' || fail "figures from results files are wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert abs(d["node"]["mem_bw_GBps"] - 4.0) < 1e-12, d["node"]       # 8 GB/s over 2 nodes
link = d["links"]["measured"]
assert abs(link["ar_alpha_us"] - 10) < 1e-6 and abs(link["ar_beta_us_per_KiB"] - 0.5) < 1e-6, link
r = d["decode"][0]
want = 1e6 / ((229504 / 2 + 1280) / 4e9 * 1e6 + 5 * (10 + 0.5 * 0.25) + 10 + 0.5 * 8 / 1024)
assert abs(r["tg_tps"] / want - 1) < 1e-6, (r, want)
PY
    note "figures read from results files"
    # scripts/reproduce on the same files: the published tables, and the measured 1-32 KB
    # allreduce latency as the mean of the 1 KiB (10.5 us) and 4 KiB (12 us) rows.
    "$top_srcdir/scripts/reproduce" "$tmp/llm.h5" "$tmp/mb.h5" > "$tmp/rep.txt" 2> "$tmp/err" ||
        { cat "$tmp/err"; fail "reproduce failed"; }
    grep -q '^| measured: mb.h5 *| allreduce .*| 11.25 ' "$tmp/rep.txt" || { cat "$tmp/rep.txt"; fail "reproduce: no measured allreduce row"; }
    grep -q 'Exo (RDMA; tensor parallel) .*| 4 ' "$tmp/rep.txt" || fail "reproduce: no Exo 4-node row"
    grep -q 'predicted from this machine' "$tmp/rep.txt" || fail "reproduce: no predictions from the files"
    if "$top_srcdir/scripts/reproduce" "$tmp/none.h5" > "$tmp/out" 2> "$tmp/err"; then fail "reproduce: missing file: exit 0"; fi
    [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -q '^reproduce: ' "$tmp/err" || { cat "$tmp/err"; fail "reproduce: missing file: not one line"; }
    note "reproduce: tables from results files; a missing file refused"
else
    note "h5py missing: results files not tried"
fi

# Bad input: one line on stderr, non-zero exit.
bad() {
    what=$1; shift
    if "$P" "$@" > "$tmp/out" 2> "$tmp/err"; then fail "$what: exit 0"; fi
    [ "$(wc -l < "$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "$what: not one line"; }
    grep -q '^predict: ' "$tmp/err" || { cat "$tmp/err"; fail "$what: no 'predict:' prefix"; }
    [ ! -s "$tmp/out" ] || { cat "$tmp/out"; fail "$what: printed a half result"; }
    note "$what: $(cat "$tmp/err")"
}
bad "unknown shape" --shape no-such-model --mem-bw-GBps 1
bad "negative bandwidth" --shape tiny --mem-bw-GBps=-5
bad "missing node file" --node "$tmp/none.json"
bad "missing results file" --results "$tmp/none.h5" --shape tiny
bad "unknown quantization" --shape tiny --quant q9_9
printf '{"figures": {"mem_bw_GBps": "fast"}}' > "$tmp/badnode.json"
bad "node file with a non-number" --node "$tmp/badnode.json"
printf 'not json' > "$tmp/junk.json"
bad "node file not JSON" --node "$tmp/junk.json"
bad "bad node count" --shape tiny --mem-bw-GBps 1 --nodes 0
# The plot: a PNG of real content (many colours, not a blank canvas).
if "$PYTHON3" -c 'import matplotlib' 2>/dev/null; then
    "$top_srcdir/scripts/reproduce" --plot "$tmp/plots" > /dev/null 2> "$tmp/err" || { cat "$tmp/err"; fail "reproduce --plot failed"; }
    "$PYTHON3" - "$tmp/plots/tokens-per-s.png" <<'PY' || fail "the tokens/s plot is not a real image"
import sys
import matplotlib.image as mi
import numpy as np
with open(sys.argv[1], "rb") as fh:
    assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
img = mi.imread(sys.argv[1])
assert img.shape[0] >= 300 and img.shape[1] >= 500, img.shape
colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
dark = (img[..., :3].mean(axis=2) < 0.5).mean()
assert len(colours) > 50 and 0.005 < dark < 0.5, (len(colours), dark)
PY
    note "reproduce --plot: a non-trivial PNG"
    # The whole report: scripts/validate's comparison of a measurement file written here
    # (with the hand-checkable toy: 2 nodes, tensor), then reproduce --report on it and on
    # results files: four PNGs of real content and a report that shows them.
    mkdir -p "$tmp/val"
    cat > "$tmp/val/measured.json" <<'JSON'
{"cores": 2, "tokens": 16, "reps": 3,
 "shapes": {"dense": {"tg_tps_1": 50, "read_GBps": 10, "of_roof": 0.5, "roof_tps": 100},
            "moe": {"tg_tps_1": 80, "read_GBps": 10, "of_roof": 0.6, "roof_tps": 130}},
 "runs": [{"shape": "dense", "split": "tensor", "delay_us": 50, "nodes": 2, "threads": 1, "tg_tps": 30, "tg_sd": 1,
           "comm_us_per_tok": 3000, "ar_8": 120, "ar_4096": 150, "p2p_8": 60, "p2p_4096": 70},
          {"shape": "dense", "split": "layers", "delay_us": 50, "nodes": 2, "threads": 2, "tg_tps": 40, "tg_sd": 1,
           "comm_us_per_tok": 300, "ar_8": 120, "ar_4096": 150, "p2p_8": 60, "p2p_4096": 70}]}
JSON
    "$top_srcdir/scripts/validate" --report "$tmp/val" > "$tmp/val.txt" 2> "$tmp/err" || { cat "$tmp/err"; fail "validate --report failed"; }
    # dense layers, 2 nodes: all bytes at 10 GB/s x 0.5 (the 1-node efficiency), plus one
    # hand-over of 70 us and the argmax's 120 us allreduce.
    "$PYTHON3" - "$tmp/val/validation.json" <<'PY' || fail "validate's prediction differs from predict's terms"
import json, sys
d = json.load(open(sys.argv[1]))
r = [x for x in d["rows"] if x["split"] == "layers"][0]
assert abs(r["pred_comm_ms"] - 0.19) < 1e-9, r
assert abs(r["error_pct"] - (r["pred_tps"] / 40 - 1) * 100) < 1e-9, r
PY
    "$top_srcdir/scripts/reproduce" --report "$tmp/rep" --validation "$tmp/val" "$tmp/llm.h5" "$tmp/mb.h5" > "$tmp/rep2.txt" 2> "$tmp/err" ||
        { cat "$tmp/err"; fail "reproduce --report failed"; }
    for png in tokens-per-s emulated-tokens-per-s allreduce hpl; do
        "$PYTHON3" - "$tmp/rep/$png.png" <<'PY' || fail "$png.png is not a real image"
import sys
import matplotlib.image as mi
import numpy as np
with open(sys.argv[1], "rb") as fh:
    assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
img = mi.imread(sys.argv[1])
assert img.shape[0] >= 300 and img.shape[1] >= 500, img.shape
colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
dark = (img[..., :3].mean(axis=2) < 0.5).mean()
assert len(colours) > 50 and 0.005 < dark < 0.5, (len(colours), dark)
PY
        grep -q "($png.png)" "$tmp/rep/report.md" || fail "report.md does not show $png.png"
    done
    grep -q "Assumptions the errors depend on" "$tmp/rep/report.md" || fail "report.md lists no assumptions"
    grep -q "measured mb.h5\|allreduce" "$tmp/rep2.txt" || fail "reproduce --report: no allreduce table"
    note "reproduce --report: four non-trivial PNGs and report.md; validate --report's terms"
else
    note "matplotlib missing: plot not tried"
fi
exit 0
