"""The embedded broker: kombu's filesystem transport, with messages that appear whole.

kombu's own transport writes a message file in place while a consumer may already be moving it away, so a
worker can read an empty file and die on the JSON error (seen with beat sending every second). Here a message is
written under a name no consumer looks at and renamed into the queue folder, which is atomic on one filesystem.
settings.CELERY_BROKER_URL "filesystem://" resolves to this transport (see mailsetup/celery.py).
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"  # consumers only take names ending in "<queue>.msg"
        with open(partial, "wb") as f:
            f.write(str_to_bytes(dumps(payload)))
        os.replace(partial, final)


class Transport(filesystem.Transport):
    Channel = Channel
