-- A catalogue written by the first build (commit 3f3be40, schema version 0):
-- five real uploads (one blurred) stored by that code, dumped with sqlite3 iterdump.
-- tests/test_store.py migrates it and checks that nothing is lost.
BEGIN TRANSACTION;
CREATE TABLE photos (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    filename TEXT NOT NULL,
    created TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    faces TEXT NOT NULL,
    original TEXT NOT NULL,
    annotated TEXT NOT NULL,
    thumbnail TEXT NOT NULL
);
INSERT INTO "photos" VALUES(1,'47f682e945b659f93a9e490b','t1.jpg','2026-11-30T04:33:57.905011Z',1280,886,'[{"box":[745.8,339.2,845.7,480.6],"score":0.9172,"landmarks":[[760.2,395.7],[801.9,401.1],[770.8,430.7],[763.4,437.7],[805.6,441.8]]},{"box":[465.4,265.4,573.4,416.1],"score":0.9107,"landmarks":[[491.7,318.9],[540.8,331.9],[507.1,360.7],[483.9,367.1],[531.9,378.4]]},{"box":[58.5,262.9,168.8,395.6],"score":0.8821,"landmarks":[[87.3,330.4],[128.9,306.3],[120.6,336.8],[114.9,369.1],[148.8,349.6]]},{"box":[1131.4,271.1,1225.7,398.9],"score":0.8793,"landmarks":[[1148.3,326.5],[1192.4,322.2],[1167.5,350.1],[1154.8,366.5],[1195.7,362.8]]},{"box":[904.8,54.2,1013.2,204.2],"score":0.8606,"landmarks":[[916.3,119.3],[944.8,113.6],[919.3,149.6],[936.8,171.2],[958.3,165.8]]},{"box":[269.0,147.3,371.2,265.1],"score":0.8578,"landmarks":[[287.0,210.7],[320.6,194.7],[305.1,227.9],[311.2,245.0],[337.9,231.0]]}]','47f682e945b659f93a9e490b.jpg','47f682e945b659f93a9e490b.annotated.jpg','47f682e945b659f93a9e490b.thumb.jpg');
INSERT INTO "photos" VALUES(2,'15d43fe4dff38114d8385335','coffee.jpg','2026-11-30T04:33:57.949460Z',600,400,'[]','15d43fe4dff38114d8385335.jpg','15d43fe4dff38114d8385335.annotated.jpg','15d43fe4dff38114d8385335.thumb.jpg');
INSERT INTO "photos" VALUES(3,'b8781c1f734616a942ce6762','obama_and_biden.jpg','2026-11-30T04:33:58.209784Z',2000,1428,'[{"box":[1144.9,358.3,1330.7,606.3],"score":0.9025,"landmarks":[[1193.8,463.7],[1275.8,445.0],[1243.7,490.5],[1215.6,543.5],[1288.3,527.3]]},{"box":[762.0,385.0,943.0,647.5],"score":0.8816,"landmarks":[[800.6,483.8],[880.6,499.2],[824.5,542.9],[791.8,559.5],[875.7,573.4]]},{"box":[1631.6,1033.0,1790.9,1222.9],"score":0.8311,"landmarks":[[1649.5,1110.7],[1708.8,1118.5],[1657.0,1151.6],[1653.7,1174.2],[1702.9,1180.3]]}]','b8781c1f734616a942ce6762.jpg','b8781c1f734616a942ce6762.annotated.jpg','b8781c1f734616a942ce6762.thumb.jpg');
INSERT INTO "photos" VALUES(4,'e6c89031c60799f2f6a6a6f4','two_people.jpg','2026-11-30T04:33:58.291681Z',1126,661,'[{"box":[789.1,37.8,942.9,251.7],"score":0.8396,"landmarks":[[844.8,126.1],[912.8,137.1],[881.8,167.2],[843.5,198.5],[896.0,207.7]]},{"box":[237.5,26.4,386.6,223.2],"score":0.8256,"landmarks":[[290.5,96.5],[359.0,103.7],[331.1,124.3],[290.5,165.3],[349.6,171.9]]}]','e6c89031c60799f2f6a6a6f4.jpg','e6c89031c60799f2f6a6a6f4.annotated.jpg','e6c89031c60799f2f6a6a6f4.thumb.jpg');
INSERT INTO "photos" VALUES(5,'2418889d0d83962d51facc38','astronaut.png','2026-11-30T04:33:58.344576Z',512,512,'[{"box":[180.4,55.7,271.4,179.1],"score":0.8417,"landmarks":[[204.6,100.0],[247.9,102.3],[223.9,129.0],[201.3,138.6],[246.5,140.8]]}]','2418889d0d83962d51facc38.jpg','2418889d0d83962d51facc38.annotated.jpg','2418889d0d83962d51facc38.thumb.jpg');
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('photos',5);
COMMIT;
