"""A strict local fake of the OpenAI Images API, for hermetic tests.

What is faked: ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart with
``image`` / ``image[]`` / ``mask`` file parts), and ``POST /v1/responses`` for /describe's text model
(``responses``: ``fake.responses.calls``), with non-streaming JSON replies and SSE streaming of
partial images, shaped as in ../shared/reference/openai-images-wire.md. The real ``openai`` SDK is
pointed at it with ``base_url=fake.base_url``.

How strict it is: the SDK checks almost nothing client-side, so this server is where a bad request
must fail. It validates what the real API documents (models, sizes, n, quality, formats,
background, compression, partial images, input files and masks) and answers 400/404 with the
API's error body. Anything it does not model is a loud failure, never a silent success:

- an unknown route is answered 404 and recorded in ``fake.unexpected``;
- a real API feature the fake does not implement (GIF/SVG output, ``markup``, ``svg[...]``,
  ``frame_count``...) is answered 400 and also recorded in ``fake.unexpected``;

and leaving ``async with FakeOpenAI()`` raises AssertionError when ``fake.unexpected`` is not empty.

Returned images are real files (Pillow) at the resolved size and format. Each is a solid colour
derived from (request number, image index), see ``FakeOpenAI.color_for``, so a test can tell which
API image ended up where; an edit keeps the first input image visible (resized and tinted, only
inside the mask's transparent area when a mask is given). Everything returned is kept on the
``RecordedRequest``.

Scripting: ``fail_next``/``refuse_next`` (HTTP errors), ``stream_error_next`` (error mid-stream),
``delay`` and ``gate`` (slow or held provider) and ``wait_for_requests`` (wait for arrivals
without sleeping). For benchmarks, ``pool = ImagePool(...)`` answers from a few pre-rendered images
(noisy ones are the size of real model output), so the fake's own CPU cost per reply is ~0.

The package, by job: ``server`` (the FakeOpenAI class: routes, scripting, replies), ``rules`` (the
API's models and limits), ``validators`` (request -> parameters or a 400), ``rendering`` (images
and usage), ``records`` (what is recorded, errors), ``wire`` (bodies, SSE, error bodies), ``responses``
(the Responses API for a vision-capable text model).
"""

from .records import ApiError, RecordedFile, RecordedRequest
from .rendering import ImagePool
from .server import FakeOpenAI

__all__ = ["ApiError", "FakeOpenAI", "ImagePool", "RecordedFile", "RecordedRequest"]
