"""A HuleEdu-compatible spell checker for the embedded stack, as the content store stands in
for the Content Service: it consumes `essay.spellcheck.requested.v1`, reads each text from the
Content Service, corrects it offline (pyspellchecker's English dictionary), stores the corrected
text and publishes an `essay.spellcheck.completed.v1` result (`contracts.results`).

- `correct`: the correction of one text
- `service`: the consumer loop (`python -m spellcheck_service`)
"""
