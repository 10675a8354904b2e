"""Dead letters of rejected rows: filed so that none hides another and none shows personal data."""

import pandas as pd

from ct_ometria.delivery import rejected
from ct_ometria.validation import REJECTION


def test_rows_set_aside_for_personal_looking_ids_without_a_source_keep_a_letter_each():
    frame = pd.DataFrame({"id": ["ann@example.com", "bob@example.com", "fine-1"], "partition": ["2024-05-02"] * 3,
                          REJECTION: ["id: id must not contain personal data"] * 2 + ["email: bad"]})  # fmt: skip
    letters = rejected(frame, "contact", "ometria_contacts")
    ids = [letter["record_id"] for letter in letters]
    assert len(set(ids)) == 3 and ids[2] == "fine-1"
    assert all(record_id.startswith("masked:") for record_id in ids[:2])
    assert not any("example.com" in str(letter["record_id"]) + str(letter["source_id"]) for letter in letters)
