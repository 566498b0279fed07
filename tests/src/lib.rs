//! The end-to-end suite lives in `tests/it/` (one test binary, one module per area). This library
//! is empty on purpose: the test kit the suite uses is `streamhooks_api::testkit`, public so that
//! projects embedding streamhooks test the same way.
