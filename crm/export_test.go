package crm

// AppendRecordJSON is appendRecordJSON, for the tests of package crm_test.
var AppendRecordJSON = appendRecordJSON
