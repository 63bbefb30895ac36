"""Benchmarks: the field's automatic protocol (:mod:`.field`, ``tinct bench``), the user-hint
protocol of SIGGRAPH 2017 (:mod:`.hints`) and what one hint does to an image
(:mod:`.hint_effects`), folder throughput (:mod:`.throughput`) and the written
reports and contact sheets (:mod:`.report`). Line art and video have their own benchmarks in
their subpackages. The field benchmark's public names are importable from here."""

from tinct.bench.field import (
    GRAY_LABEL,
    GRID_SUFFIX,
    TRUTH_LABEL,
    BenchConfig,
    BenchModel,
    TrainBudget,
    center_crop_resize,
    find_data_dir,
    gray_input,
    grid_of,
    list_images,
    load_bench_model,
    load_eval_image,
    measure_latency,
    parse_model_spec,
    run_bench,
    run_train_budget,
    source_of,
)

__all__ = ["GRAY_LABEL", "GRID_SUFFIX", "TRUTH_LABEL", "BenchConfig",
           "BenchModel", "TrainBudget", "center_crop_resize", "find_data_dir", "gray_input", "grid_of",
           "list_images", "load_bench_model", "load_eval_image", "measure_latency", "parse_model_spec",
           "run_bench", "run_train_budget", "source_of"]
