"""Local stand-ins for Google's OAuth and FCM endpoints, APNs and a Web Push service.

Each answers as the real service documents, verifies the credentials a provider sends,
records what it received, and is told per device token how to answer. They listen on
127.0.0.1 on a random port, in a thread of the test process.
"""
