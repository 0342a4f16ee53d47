"""Push providers: FCM, APNs, Web Push and a console one for development."""
