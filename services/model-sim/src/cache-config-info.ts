/**
 * The labels of `vllm:cache_config_info`: vLLM exports `{k: str(v) for k, v in
 * cache_config.__dict__.items()}` of its CacheConfig, so the label set is every CacheConfig field.
 * Field list and defaults of vLLM 0.34 (vllm/config/cache.py; the golden vectors in
 * packages/kv-blocks/test/vllm-golden/vllm-0.34.0.json record them and a test compares). Values
 * are what the simulated server runs with: Python's str() of each (None, True, False).
 */
export interface CacheConfigInputs {
  readonly blockSize: number;
  readonly numGpuBlocks: number;
  readonly numGpuBlocksOverride: number | null;
  readonly prefixCachingHashAlgo: string;
  readonly userSpecifiedBlockSize: boolean;
}

const py = (v: number | string | boolean | null): string =>
  v === null ? "None" : typeof v === "boolean" ? (v ? "True" : "False") : String(v);

export function cacheConfigLabels(c: CacheConfigInputs): Record<string, string> {
  const labels: Record<string, number | string | boolean | null> = {
    block_size: c.blockSize,
    user_specified_block_size: c.userSpecifiedBlockSize,
    kv_cache_layout: null,
    prefix_match_unit: c.blockSize,
    gpu_memory_utilization: 0.92,
    cache_dtype: "auto",
    is_attention_free: false,
    num_gpu_blocks_override: c.numGpuBlocksOverride,
    sliding_window: null,
    enable_prefix_caching: true,
    prefix_caching_hash_algo: c.prefixCachingHashAlgo,
    prefix_cache_retention_interval: null,
    kv_cache_dtype_skip_layers: "[]",
    mamba_page_size_padded: null,
    skip_page_size_padded: null,
    mamba_block_size: null,
    mamba_cache_dtype: "auto",
    mamba_ssm_cache_dtype: "auto",
    mamba_cache_mode: "none",
    enable_mamba_shared_prefix_checkpoint: false,
    replayssm_buffer_len: null,
    use_replayssm: false,
    use_kda_recoverssm: false,
    num_gpu_blocks: c.numGpuBlocks,
    num_cpu_blocks: null,
    simple_cpu_offload_num_blocks: null,
    effective_attention_block_size: c.blockSize,
    kv_cache_size_tokens: c.numGpuBlocks * c.blockSize,
    kv_cache_max_concurrency: null,
    hash_block_size: c.blockSize,
    cache_hit_alignment_tokens: null,
    kv_sharing_fast_prefill: false,
    swa_bounded_replay: true,
    kv_cache_memory_bytes: null,
    enable_extensible_kv_cache: false,
    kv_offloading_size: null,
    kv_offloading_backend: "native",
    _block_size_resolved: true,
    _extensible_kv_cache_resolved: true,
  };
  return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, py(v)]));
}
