"""Response bodies of the JSON endpoints (they also make the OpenAPI schema at /docs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tinct.imageio.files import READ_FORMATS_IN_WORDS


class ErrorBody(BaseModel):
    error: str = Field(description="what went wrong, in words")
    retry_after: int | None = Field(None, description="with 503: seconds to wait before trying again")


class ModelInfo(BaseModel):
    name: str
    arch: str = Field(description="architecture in the tinct model zoo")
    hints: bool = Field(description="whether the model takes color hints (points, palette)")
    summary: str = ""
    purpose: str = Field("", description="what the model is for, in one line")
    kind: str = Field("ab", description='"ab": colors a gray photo\'s own lightness; "lab": paints line art whole')
    shipped: bool = Field(description="shipped with tinct (else a model file given at startup)")
    default: bool
    loaded: bool = Field(description="already loaded in memory")
    metrics: dict[str, Any] = Field(default_factory=dict,
                                    description="the model card's benchmark figures recorded in the model file (or none)")


class ModelList(BaseModel):
    default: str
    models: list[ModelInfo]


class RenderSize(BaseModel):
    default: int | None  # None: each model's own (photo 256, line art 512)
    min: int
    max: int


class ServerConfig(BaseModel):
    max_upload_bytes: int
    max_pixels: int
    render_size: RenderSize
    formats: list[str]  # what the answers can be
    read_formats: str = ""  # what uploads can be, in words
    queue_size: int
    workers: int
    timeout_s: float
    backend: str = "torch"
    max_job_bytes: int = 0  # one job's upload: a clip, or all of its images
    max_job_images: int = 0
    max_video_s: float = 0.0
    job_ttl_s: float = 0.0  # how long a finished job's result can be downloaded


class Health(BaseModel):
    status: str
    version: str
    default_model: str
    loaded_models: list[str]
    queue_pending: int
    queue_size: int


ERRORS = {
    400: {"model": ErrorBody, "description": "bad input: no file, empty or damaged image, bad hints"},
    404: {"model": ErrorBody, "description": "unknown model"},
    413: {"model": ErrorBody, "description": "upload or image too large"},
    415: {"model": ErrorBody, "description": "not an image"},
    422: {"model": ErrorBody, "description": "bad options (render_size, format, quality, depth, unknown fields)"},
    503: {"model": ErrorBody, "description": "busy: the queue is full; retry after `Retry-After` seconds",
          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}},
}

COLORIZE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {"type": "string", "format": "binary",
                          "description": f"the image ({READ_FORMATS_IN_WORDS}); "
                                         "its content decides, not its name"},
                "hints": {"type": "string", "description":
                          'JSON color hints: {"points": [{"x": 10, "y": 20, "color": "#c05020", "size": 0}], '
                          '"palette": ["#c05020", {"color": "#2060a0", "weight": 2}]}; x, y in the '
                          "uploaded image's pixels, size in working pixels (0 = automatic)"},
                "reference": {"type": "string", "format": "binary",
                              "description": "optional reference image (any scene): its colors guide the result"},
                "model": {"type": "string", "description": "model name from GET /api/v1/models (default: the "
                                                           "server's default model)"},
                "render_size": {"type": "integer", "minimum": 32, "description":
                                "working size (longer side) of the network; larger is slower and finer. Default "
                                "and maximum: GET /api/v1/config"},
                "format": {"type": "string", "enum": ["png", "jpeg", "webp", "tiff"], "default": "png"},
                "depth": {"type": "string", "enum": ["auto", "8"], "default": "auto",
                          "description": "auto: a 16-bit PNG/TIFF upload is answered with 16 bits per sample "
                                         "(format png or tiff); 8: always 8 bits"},
                "quality": {"type": "integer", "minimum": 1, "maximum": 100,
                            "description": "JPEG/WebP quality"},
                "variant": {"type": "integer", "minimum": 0, "maximum": 7, "description":
                            "/colorize: start from this alternative of /variants (0 = the usual colorization); "
                            "the hints apply on top of it"},
                "n": {"type": "integer", "minimum": 2, "maximum": 8, "default": 4,
                      "description": "/variants: how many alternatives; /colorize: of how many the variant is one"},
            },
        }}},
    }
}
