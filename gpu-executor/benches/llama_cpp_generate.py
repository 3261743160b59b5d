"""llama.cpp side of cpu_kernels_bench: greedy generation on a GGUF with llama-cpp-python.

Usage: llama_cpp_generate.py MODEL.gguf THREADS N_TOKENS PROMPT
Prints one JSON line: time to first token (ms), decode tokens/s over the tokens after the first,
the process's peak memory (MiB) and the generated token ids.
"""
import json
import resource
import sys
import time

from llama_cpp import Llama

path, threads, n, prompt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
llm = Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=512, verbose=False)
toks = llm.tokenize(prompt.encode(), add_bos=False)
# Warm-up, as the Rust side does.
llm.reset()
llm.eval(toks)
llm.reset()
t0 = time.perf_counter()
llm.eval(toks)
out = [int(llm.sample(top_k=1, temp=0.0))]
ttft = time.perf_counter() - t0
t1 = time.perf_counter()
for _ in range(n - 1):
    llm.eval([out[-1]])
    out.append(int(llm.sample(top_k=1, temp=0.0)))
decode = time.perf_counter() - t1
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"ttft_ms": ttft * 1e3, "decode_tps": (n - 1) / decode, "peak_mib": peak, "tokens": out}))
