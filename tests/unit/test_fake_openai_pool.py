"""The fake's benchmark option: replies from a pool of pre-rendered images."""

from __future__ import annotations

import base64
import io

from PIL import Image

from tests.fakes.openai import FakeOpenAI, ImagePool
from tests.helpers import sdk_client


async def test_a_pool_answers_with_its_pre_rendered_noisy_images_in_turn():
    async with FakeOpenAI() as fake:
        fake.pool = ImagePool("noisy", size=2)
        fake.pool.warm(1024, 1024)
        client = sdk_client(fake.base_url, fake.api_key, max_retries=0)
        try:
            response = await client.images.generate(model="gpt-image-2", prompt="p", n=3, size="1024x1024")
        finally:
            await client.close()
    images = [base64.b64decode(item.b64_json or "") for item in response.data or []]
    # Two pool images, handed out in turn.
    assert images[0] != images[1]
    assert images[2] == images[0]
    assert len(images[0]) > 3_000_000  # noise does not compress: the size of real model output
    assert Image.open(io.BytesIO(images[0])).size == (1024, 1024)
    assert fake.returned == [images]
    # The rest of the reply is the usual one (the data list is spliced in from ready entries).
    assert response.size == "1024x1024"
    assert response.usage is not None
    assert response.usage.output_tokens == fake.last.response["usage"]["output_tokens"]
