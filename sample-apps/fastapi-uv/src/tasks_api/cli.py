def hello():
    print("hello from tasks-api")
