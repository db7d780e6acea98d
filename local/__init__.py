"""The local runtime: DynamoDB Local, the API server, the stream pump and the scheduler."""
