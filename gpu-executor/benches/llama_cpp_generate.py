"""llama.cpp side of cpu_kernels_bench: greedy generation on a GGUF with llama-cpp-python.

Usage: llama_cpp_generate.py MODEL.gguf THREADS N_TOKENS PROMPT
Prints one JSON line: time to first token (ms), decode tokens/s over the tokens after the first,
the process's peak memory (MiB) and the number of tokens generated.
"""
import json
import resource
import sys
import time

from llama_cpp import Llama

path, threads, n, prompt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
llm = Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=512, verbose=False)
# Warm-up on another prompt (llama-cpp-python reuses a cached prefix of the same prompt).
for _ in llm("Warm up the threads and caches", max_tokens=2, temperature=0.0, top_k=1, stream=True):
    pass
t0 = time.perf_counter()
ttft = None
out = []
for chunk in llm(prompt, max_tokens=n, temperature=0.0, top_k=1, stream=True):
    if ttft is None:
        ttft = time.perf_counter() - t0
        t1 = time.perf_counter()
    out.append(chunk["choices"][0]["text"])
decode = time.perf_counter() - t1
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# Greedy may stop early at end-of-sequence: decode tokens/s over the chunks actually produced.
print(json.dumps({"ttft_ms": ttft * 1e3, "decode_tps": (len(out) - 1) / decode, "peak_mib": peak, "tokens": len(out)}))
