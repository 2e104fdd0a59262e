"""A small HuleEdu-compatible Content Service for the embedded default and the tests.

POST /v1/content with the raw text -> 201 {"storage_id": "<32 hex>"};
GET /v1/content/<storage_id> -> the stored bytes; 400 for a malformed id, 404 for an unknown one.
Files are written atomically (temporary file, fsync, rename), so a crash never leaves half a text.
"""
