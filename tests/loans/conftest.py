import base64

import pytest

from loans.pii import FieldCipher


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(base64.urlsafe_b64decode(base64.urlsafe_b64encode(b"k" * 32)))
