# Writes bench_decode's random Qwen2 folder (safetensors, F32) as an F32 GGUF with the same
# weights, for llama.cpp (bench/compare_llamacpp.sh). usage: st2gguf.py MODEL_DIR OUT.gguf GGUF_PY_DIR
# Needs numpy (Debian: python3-numpy) and gguf-py from the llama.cpp source being compared.
import json, struct, sys
import numpy as np

src, dst = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
import gguf

cfg = json.load(open(f'{src}/config.json'))
f = open(f'{src}/model.safetensors', 'rb')
n = struct.unpack('<Q', f.read(8))[0]
hdr = json.loads(f.read(n))
base = 8 + n
def tensor(name):
    m = hdr[name]; a, b = m['data_offsets']
    f.seek(base + a)
    return np.frombuffer(f.read(b - a), dtype=np.float32).reshape(m['shape'])

w = gguf.GGUFWriter(dst, 'qwen2')
L = cfg['num_hidden_layers']
w.add_context_length(cfg['max_position_embeddings'])
w.add_embedding_length(cfg['hidden_size'])
w.add_block_count(L)
w.add_feed_forward_length(cfg['intermediate_size'])
w.add_head_count(cfg['num_attention_heads'])
w.add_head_count_kv(cfg['num_key_value_heads'])
w.add_rope_freq_base(cfg.get('rope_theta', 10000.0))
w.add_layer_norm_rms_eps(cfg.get('rms_norm_eps', 1e-6))
w.add_file_type(gguf.LlamaFileType.ALL_F32)
# tokenizer: the test tokenizer's tokens padded to the model's vocabulary (bench tokens are random ids)
tok = json.load(open(f'{src}/tokenizer.json'))
vocab = dict(tok['model']['vocab'])
for t in tok.get('added_tokens', []): vocab[t['content']] = t['id']
V = cfg['vocab_size']
tokens = [f'[PAD{i}]' for i in range(V)]
types = [gguf.TokenType.UNUSED] * V
for t, i in vocab.items():
    if i < V: tokens[i] = t; types[i] = gguf.TokenType.NORMAL
merges = tok['model'].get('merges', [])
merges = [m if isinstance(m, str) else ' '.join(m) for m in merges]
w.add_tokenizer_model('gpt2'); w.add_tokenizer_pre('qwen2')
w.add_token_list(tokens); w.add_token_types(types); w.add_token_merges(merges)
w.add_eos_token_id(cfg.get('eos_token_id', 0)); w.add_bos_token_id(cfg.get('eos_token_id', 0))
names = {'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
         'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
         'input_layernorm': 'attn_norm', 'post_attention_layernorm': 'ffn_norm'}
w.add_tensor('token_embd.weight', tensor('model.embed_tokens.weight'))
w.add_tensor('output_norm.weight', tensor('model.norm.weight'))
for i in range(L):
    for hf, g in names.items():
        for kind in ('weight', 'bias'):
            k = f'model.layers.{i}.{hf}.{kind}'
            if k in hdr: w.add_tensor(f'blk.{i}.{g}.{kind}', tensor(k))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print('wrote', dst)
